// When the process that runs the trace dies (kill -9 of filemon), nothing it traced may run on
// untraced. The ptrace backend's tracees die with their tracer (PTRACE_O_EXITKILL); auto's
// hand-off helper, which traces a statically linked program with ptrace inside the preload
// run, must give the same: the program dies with the supervisor, whether or not it makes
// records (README, "The preload backend and auto").

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::ProcessState;
using testing_internal::ShellCommand;
using testing_internal::TestProgram;
using testing_internal::TraceCommand;
using testing_internal::WriteFile;

struct DeathCase {
  const char* backend;
  bool records;  // the static program opens a file every 50 ms, or only sleeps
};

void PrintTo(const DeathCase& c, std::ostream* os) {
  *os << c.backend << (c.records ? ", records" : ", sleeps");
}

// Traces `command` with `backend` in a child process, waits until the command wrote its pid to
// `pidfile`, kills that child with SIGKILL, and expects the pid gone within 2 s (killing it
// if not, to leave nothing running).
void ExpectGoneWhenTheTracerIsKilled(const char* backend, const std::string& command,
                                     const std::string& pidfile) {
  const pid_t tracer = fork();
  ASSERT_GE(tracer, 0);
  if (tracer == 0) {
    (void)TraceCommand(backend, ShellCommand(command), TraceOptions());
    _exit(0);
  }
  int pid = 0;
  for (int i = 0; i < 200 && pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream(pidfile) >> pid;
  }
  kill(tracer, SIGKILL);
  waitpid(tracer, nullptr, 0);
  ASSERT_NE(pid, 0) << "the command never started";
  char state = ProcessState(pid);
  for (int i = 0; i < 40 && state != 0 && state != 'Z'; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state = ProcessState(pid);
  }
  if (state != 0 && state != 'Z') kill(pid, SIGKILL);
  EXPECT_TRUE(state == 0 || state == 'Z')
      << "pid " << pid << " still runs (state " << state << ") 2 s after its tracer died";
}

class TracerDeath : public ::testing::TestWithParam<DeathCase> {};

// Runs the static program under the backend in a child process, kills that process with
// SIGKILL once the program runs, and expects the program gone within 2 s.
TEST_P(TracerDeath, StaticProgramEndsWhenTheTracerIsKilled) {
  const DeathCase& param = GetParam();
  const std::string dir = MakeTempDir("tracer_death");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  const std::string pidfile = dir + "/pid", done = dir + "/done";
  const std::string input = param.records ? dir + "/in" : "-";
  ExpectGoneWhenTheTracerIsKilled(param.backend,
                                  absl::StrCat(TestProgram("static_loop_bin"), " ", pidfile, " ",
                                               input, " ", done, "; echo after"),
                                  pidfile);
}

// A preloaded program that ignores SIGPIPE (python, many servers) must not outlive its tracer
// either: its next record finds the supervisor's pipe and socket gone, and it ends there, as
// one that does not ignore SIGPIPE ends by that signal (it used to run on, untraced).
TEST(TracerDeathPreload, ProgramIgnoringSigpipeEndsAtItsNextRecord) {
  const std::string dir = MakeTempDir("tracer_death_sigpipe");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  const std::string pidfile = dir + "/pid";
  ExpectGoneWhenTheTracerIsKilled(
      "preload",
      absl::StrCat("trap '' PIPE; echo $$ > ", pidfile, "; while :; do : < ", dir, "/in; done"),
      pidfile);
}

// kill -9 of the tracer at random moments of a command's start: whatever was forked must not
// wait forever (a child between fork and exec waits for the tracer's word to go on). This
// process is a child subreaper, so that what the tracer leaves becomes its child; each run's
// leftovers must be gone within 2 s.
class TracerDeathAtStart : public ::testing::TestWithParam<const char*> {};

TEST_P(TracerDeathAtStart, NothingWaitsForeverAfterTheTracerIsKilledAtStart) {
  const char* backend = GetParam();
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  std::mt19937 random(42);
  int stuck = 0;
  for (int run = 0; run < 60; ++run) {
    const pid_t tracer = fork();
    ASSERT_GE(tracer, 0);
    if (tracer == 0) {
      // The static program: under auto, traced by the hand-off helper from a shell.
      (void)TraceCommand(
          backend, ShellCommand(absl::StrCat(TestProgram("static_open_bin"), " /dev/null; true")),
          TraceOptions());
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 6000));
    kill(tracer, SIGKILL);
    waitpid(tracer, nullptr, 0);
    // Reap what it left, for up to 2 s; kill what is still there.
    for (int i = 0; i < 200; ++i) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (waitpid(-1, nullptr, WNOHANG) == 0) {
      ++stuck;
      std::ifstream children(absl::StrCat("/proc/self/task/", getpid(), "/children"));
      for (int pid; children >> pid;) kill(pid, SIGKILL);
      while (waitpid(-1, nullptr, 0) > 0) {
      }
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_EQ(stuck, 0) << stuck << " of 60 runs left a process that still waited 2 s later";
}

INSTANTIATE_TEST_SUITE_P(Backends, TracerDeath,
                         ::testing::Values(DeathCase{"ptrace", true}, DeathCase{"ptrace", false},
                                           DeathCase{"auto", true}, DeathCase{"auto", false}),
                         [](const ::testing::TestParamInfo<DeathCase>& info) {
                           return absl::StrCat(info.param.backend,
                                               info.param.records ? "Records" : "Sleeps");
                         });

INSTANTIATE_TEST_SUITE_P(Backends, TracerDeathAtStart,
                         ::testing::Values("ptrace", "preload", "auto"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace filemon
