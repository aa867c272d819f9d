// A hangup when the tracer leads the session (a tmux pane, `ssh -t host filemon ...`,
// `setsid`): the kernel sends SIGHUP to the session leader alone, and when the leader exits,
// SIGHUP and SIGCONT to the terminal's foreground process group. Untraced the command is the
// leader, so a `sleep` that its shell runs in the foreground is hung up when the shell dies.
// Traced, filemon is the leader: it must give the command the same end, under every backend.
// A daemon in a session of its own is no part of that group and runs on. The "untraced" case
// checks the kernel's rule itself.

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/run_control.h"
#include "filemon/core/signal_passing.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::ProcessState;
using testing_internal::ReadFileOrEmpty;
using testing_internal::ShellCommand;
using testing_internal::TraceCommand;
using testing_internal::TraceResult;

// In a new session whose controlling terminal is the pty `slave`: runs `script` with /bin/sh as
// the session leader ("untraced") or under the backend with filemon's signal passing, writes
// the log to `log_path`, and exits with the command's shell status (200: no result).
[[noreturn]] void LeadTheSession(const std::string& backend, const char* slave, int master,
                                 const std::string& script, const std::string& log_path) {
  close(master);
  setsid();
  const int tty = open(slave, O_RDWR);  // the first terminal a leader opens is its own
  if (tty < 0) _exit(201);
  if (backend == "untraced") {
    execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(202);
  }
  RunControl control;
  TraceOptions options;
  options.control = &control;
  absl::StatusOr<TraceResult> r;
  {
    ScopedSignalPassing passing(&control);
    r = TraceCommand(backend, ShellCommand(script), options);
  }
  std::ofstream(log_path) << (r.ok() ? r->log : r.status().ToString());
  _exit(r.ok() ? r->exit.ShellStatus() : 200);
}

class SessionHangup : public ::testing::TestWithParam<const char*> {};

TEST_P(SessionHangup, ForegroundGroupIsHungUpWhenTheCommandEnds) {
  const std::string backend = GetParam();
  const std::string dir = MakeTempDir("hangup");
  const std::string pidfile = dir + "/sleep", log = dir + "/log";
  // The inner shell writes its pid and becomes `sleep`, in the outer shell's process group.
  // The daemon, in a session of its own, is not the terminal's: the kernel leaves it alone.
  const std::string script = absl::StrCat(
      "setsid sh -c 'echo x > ", dir, "/ready; sleep 1; echo x > ", dir,
      "/daemon' & sh -c 'echo $$ > ", pidfile, "; exec sleep 30'; echo after > ", dir, "/after");
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const std::string slave = ptsname(master);
  const pid_t leader = fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) LeadTheSession(backend, slave.c_str(), master, script, log);
  int sleep_pid = 0;
  // The daemon has its own session (ready) and `sleep` runs.
  for (int i = 0; i < 1000 && (sleep_pid == 0 || ReadFileOrEmpty(dir + "/ready").empty()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sleep_pid = atoi(ReadFileOrEmpty(pidfile).c_str());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // `sleep` has exec'd
  close(master);                                                // the hangup
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 1000 && !ended; ++i) {
    ended = waitpid(leader, &status, WNOHANG) == leader;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // SIGHUP reaches the foreground group as the leader exits; `sleep` may still be on its way
  // out (running, to act on the signal) when the leader has been reaped: it has a while to go.
  char state = sleep_pid > 0 ? ProcessState(sleep_pid) : 0;
  for (int i = 0; i < 200 && state != 0 && state != 'Z'; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    state = ProcessState(sleep_pid);
  }
  if (sleep_pid > 0 && state != 0 && state != 'Z') kill(sleep_pid, SIGKILL);  // leave nothing
  if (!ended) {
    kill(leader, SIGKILL);
    waitpid(leader, &status, 0);
  }
  ASSERT_NE(sleep_pid, 0) << "the command never started";
  EXPECT_TRUE(state == 0 || state == 'Z')
      << "sleep " << sleep_pid << " still runs (state " << state << ") after the hangup";
  ASSERT_TRUE(ended) << "the session leader still runs 10 s after the hangup";
  EXPECT_TRUE(ReadFileOrEmpty(dir + "/after").empty()) << "the shell outlived its hangup";
  for (int i = 0; i < 300 && ReadFileOrEmpty(dir + "/daemon").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(ReadFileOrEmpty(dir + "/daemon").empty()) << "the daemon was hung up too\n"
                                                         << ReadFileOrEmpty(log);
  if (backend == "untraced") {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP) << status;
    return;
  }
  ASSERT_TRUE(WIFEXITED(status)) << status;
  const std::string text = ReadFileOrEmpty(log);
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGHUP) << text;
  EXPECT_NE(text.find(absl::StrCat("X ", sleep_pid, " 0 ", SIGHUP, "\n")), std::string::npos)
      << text;
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionHangup,
                         ::testing::Values("untraced", "ptrace", "preload", "auto"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace filemon
