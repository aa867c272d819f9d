#include "filemon/backends/kernel/kernel_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/backends/kernel/kernel_backend_internal.h"
#include "filemon/backends/kernel/testing.h"
#include "filemon/core/backend.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/core/tree_order.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using kernel_testing::TextSink;

// The log `text` keeps the kernel's order (F before the child's records and the parent's X,
// nothing after X), as every backend's log must.
void ExpectTreeOrder(const std::string& text) {
  Parser parser(text, {});
  TreeOrderOptions options;
  options.roots = TreeRoots::kFirstOnly;
  TreeOrderChecker order(options);
  Record record;
  while (parser.Next(&record) && order.Add(record, parser.line())) {
  }
  EXPECT_TRUE(parser.ok()) << parser.status() << "\n" << text;
  EXPECT_TRUE(order.ok()) << order.status() << "\n" << text;
}

Command TrueCommand() {
  Command command;
  command.argv = {"/bin/true"};
  return command;
}

KernelBackendOptions DevNullOptions() {
  KernelBackendOptions options;
  options.device_path = "/dev/null";
  return options;
}

std::unique_ptr<Backend> BackendOn(std::string device_path) {
  KernelBackendOptions options;
  options.device_path = std::move(device_path);
  return NewKernelBackendUnchecked(options);
}

TEST(KernelBackend, UnavailableOnLinuxNamingTheDeviceAndTheAlternatives) {
  if (PlatformHasFilemonDevice()) GTEST_SKIP() << "this system has filemon(4)";
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeKernelBackend();
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(backend.status().message(),
            absl::StrCat("open(/dev/filemon): ", std::strerror(ENOENT),
                         ": /dev/filemon is the FreeBSD/NetBSD filemon(4) kernel device, which "
                         "this system does not have; use the ptrace backend (--backend=ptrace) "
                         "or the preload backend (--backend=preload) instead"));
}

TEST(KernelBackend, RunOnANonFilemonDeviceFailsAtSetFd) {
  std::unique_ptr<Backend> backend = BackendOn("/dev/null");
  EXPECT_EQ(backend->name(), "kernel");
  TextSink sink;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), {}, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_TRUE(absl::StartsWith(exit.status().message(), "ioctl(/dev/null, FILEMON_SET_FD, "))
      << exit.status();
  EXPECT_TRUE(absl::EndsWith(exit.status().message(), "/dev/null is not a filemon(4) device"))
      << exit.status();
  EXPECT_EQ(sink.text, "");
}

TEST(KernelBackend, MissingDeviceIsUnavailable) {
  std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/filemon");
  std::unique_ptr<Backend> backend = BackendOn(path);
  TextSink sink;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), {}, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(exit.status().message(), absl::StrCat("open(", path, ")")));
}

TEST(KernelBackend, AbsolutePathsAreRefused) {
  std::unique_ptr<Backend> backend = BackendOn(kFilemonDevicePath);
  TextSink sink;
  TraceOptions options;
  options.absolute_paths = true;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), options, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(exit.status().message(), "ptrace or preload")) << exit.status();
}

TEST(KernelBackend, ProbesAreRefused) {
  std::unique_ptr<Backend> backend = BackendOn(kFilemonDevicePath);
  TextSink sink;
  TraceOptions options;
  options.probes = true;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), options, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(exit.status().message(), "cannot see absent-path probes"))
      << exit.status();
}

// Run() on Linux with the two ioctls played by the test ("the kernel"): the log file the
// backend made is written by the test, as the kernel would, while the command runs.
int g_pid_pipe = -1;  // the child's hook tells the test its pid here

int ReportPidInChild(pid_t pid) {
  return ::write(g_pid_pipe, &pid, sizeof(pid)) == sizeof(pid) ? 0 : errno;
}
int SucceedInChild(pid_t) { return 0; }
int NoSuchProcessInChild(pid_t) { return ESRCH; }

KernelDeviceHooks NoOpHooks() {
  KernelDeviceHooks hooks;
  hooks.set_log_fd = [](int) { return 0; };
  hooks.set_pid_in_child = &SucceedInChild;
  return hooks;
}

void WriteAll(int fd, const std::string& text) {
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

TEST(KernelBackendSimulated, FollowsTheLogAndWaitsForTracedOrphans) {
  int pid_pipe[2];
  ASSERT_EQ(::pipe2(pid_pipe, O_CLOEXEC), 0);
  g_pid_pipe = pid_pipe[1];
  int kernel_log = -1;
  KernelDeviceHooks hooks;
  hooks.set_log_fd = [&kernel_log](int fd) {
    kernel_log = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return kernel_log >= 0 ? 0 : errno;
  };
  hooks.set_pid_in_child = &ReportPidInChild;
  KernelBackendOptions options;
  options.device_path = "/dev/null";
  options.temp_dir = std::getenv("TEST_TMPDIR");
  std::unique_ptr<Backend> backend = NewKernelBackendUnchecked(options, hooks);

  std::string go = absl::StrCat(std::getenv("TEST_TMPDIR"), "/go");
  ::unlink(go.c_str());
  pid_t command_pid = -1, orphan = -1;
  absl::Time orphan_exit;
  std::thread kernel([&] {
    ASSERT_EQ(::read(pid_pipe[0], &command_pid, sizeof(command_pid)),
              static_cast<ssize_t>(sizeof(command_pid)));
    // A real process standing for a traced orphan that outlives the command.
    orphan = ::fork();
    if (orphan == 0) {
      ::execl("/bin/sleep", "sleep", "0.4", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    WriteAll(kernel_log, "# filemon version 5\n# Target pid 1\n# Start 1.000000\nV 5\n");
    // The kernel writes F when the fork happens, before the parent can exit: the command
    // waits for the go file, created once F is in the log.
    WriteAll(kernel_log,
             absl::StrCat("E ", command_pid, " /bin/sh\nF ", command_pid, " ", orphan, "\n"));
    ::close(::open(go.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    WriteAll(kernel_log, absl::StrCat("X ", command_pid, " 3 0\n"));
    siginfo_t info;
    ::waitid(P_PID, orphan, &info, WEXITED | WNOWAIT);  // exited, not reaped: kill(0) works
    orphan_exit = absl::Now();
    WriteAll(kernel_log, absl::StrCat("X ", orphan, " 0 0\n# Stop 2.000000\n# Bye bye\n"));
    absl::SleepFor(absl::Milliseconds(100));
    ::waitpid(orphan, nullptr, 0);
  });

  TextSink sink;
  Command command;
  command.argv = {"/bin/sh", "-c",
                  absl::StrCat("until [ -e ", go, " ]; do sleep 0.01; done; exit 3")};
  absl::StatusOr<ExitStatus> exit = backend->Run(command, {}, &sink);
  absl::Time returned = absl::Now();
  kernel.join();
  ::close(pid_pipe[0]);
  ::close(pid_pipe[1]);
  ::close(kernel_log);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_GE(returned, orphan_exit) << "Run returned before the traced orphan exited";
  EXPECT_EQ(sink.text, absl::StrCat("E ", command_pid, " /bin/sh\nF ", command_pid, " ", orphan,
                                    "\nX ", command_pid, " 3 0\nX ", orphan, " 0 0\n"));
  ExpectTreeOrder(sink.text);
}

// A RunControl signal after the command exited reaches the traced orphan the log shows alive
// at once (not after the orphan's own 30 s), and the run reports it.
TEST(KernelBackendSimulated, SignalAfterTheCommandExitedReachesTheOrphans) {
  int kernel_log = -1;
  KernelDeviceHooks hooks;
  hooks.set_log_fd = [&kernel_log](int fd) {
    kernel_log = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return kernel_log >= 0 ? 0 : errno;
  };
  int pid_pipe[2];
  ASSERT_EQ(::pipe2(pid_pipe, O_CLOEXEC), 0);
  g_pid_pipe = pid_pipe[1];
  hooks.set_pid_in_child = &ReportPidInChild;
  KernelBackendOptions options;
  options.device_path = "/dev/null";
  options.temp_dir = std::getenv("TEST_TMPDIR");
  std::unique_ptr<Backend> backend = NewKernelBackendUnchecked(options, hooks);
  RunControl control;
  TraceOptions trace;
  trace.control = &control;

  pid_t command_pid = -1, orphan = -1;
  int orphan_signal = 0;
  std::thread kernel([&] {
    ASSERT_EQ(::read(pid_pipe[0], &command_pid, sizeof(command_pid)),
              static_cast<ssize_t>(sizeof(command_pid)));
    orphan = ::fork();
    if (orphan == 0) {
      ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    WriteAll(kernel_log,
             absl::StrCat("E ", command_pid, " /bin/true\nF ", command_pid, " ", orphan, "\n"));
    // The command (true) exits; once the backend has reaped it, ^C arrives.
    while (::kill(command_pid, 0) == 0) absl::SleepFor(absl::Milliseconds(5));
    WriteAll(kernel_log, absl::StrCat("X ", command_pid, " 0 0\n"));
    control.Signal(SIGTERM);
    siginfo_t info;
    ::waitid(P_PID, orphan, &info, WEXITED | WNOWAIT);
    orphan_signal = info.si_code == CLD_KILLED ? info.si_status : 0;
    WriteAll(kernel_log, absl::StrCat("X ", orphan, " 0 ", orphan_signal, "\n"));
    absl::SleepFor(absl::Milliseconds(100));
    ::waitpid(orphan, nullptr, 0);
  });

  TextSink sink;
  const absl::Time start = absl::Now();
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), trace, &sink);
  const absl::Duration took = absl::Now() - start;
  kernel.join();
  ::close(pid_pipe[0]);
  ::close(pid_pipe[1]);
  ::close(kernel_log);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->ShellStatus(), 0);
  EXPECT_EQ(exit->signal_after_exit, SIGTERM);
  EXPECT_EQ(orphan_signal, SIGTERM);
  EXPECT_LT(took, absl::Seconds(10));
  EXPECT_TRUE(absl::StrContains(sink.text, absl::StrCat("X ", orphan, " 0 15\n"))) << sink.text;
}

TEST(KernelBackendSimulated, ExitSignalCwdAndEnvironment) {
  std::unique_ptr<Backend> backend = NewKernelBackendUnchecked(DevNullOptions(), NoOpHooks());
  TextSink sink;
  Command command;
  command.argv = {"sh", "-c", "echo \"$FILEMON_TEST\" > env.txt; kill -TERM $$"};
  command.env = std::vector<std::string>{"FILEMON_TEST=from-env", "PATH=/bin:/usr/bin"};
  command.cwd = std::getenv("TEST_TMPDIR");
  absl::StatusOr<ExitStatus> exit = backend->Run(command, {}, &sink);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_EQ(exit->ShellStatus(), 128 + SIGTERM);
  std::ifstream in(absl::StrCat(command.cwd, "/env.txt"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "from-env");
}

TEST(KernelBackendSimulated, ChildFailuresNameTheCall) {
  std::string missing_dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/no-such-dir");
  struct Case {
    std::vector<std::string> argv;
    std::string cwd;
    int (*set_pid)(pid_t);
    absl::StatusCode code;
    std::string prefix;
    std::string suffix;
  };
  const Case kCases[] = {
      {{"/nonexistent/cmd"},
       "",
       &SucceedInChild,
       absl::StatusCode::kNotFound,
       "execvp(/nonexistent/cmd): ",
       std::strerror(ENOENT)},
      {{"filemon-no-such-command"},
       "",
       &SucceedInChild,
       absl::StatusCode::kNotFound,
       "execvp(filemon-no-such-command): ",
       std::strerror(ENOENT)},
      {{"/bin/true"},
       missing_dir,
       &SucceedInChild,
       absl::StatusCode::kNotFound,
       absl::StrCat("chdir(", missing_dir, "): "),
       std::strerror(ENOENT)},
      {{"/bin/true"},
       "",
       &NoSuchProcessInChild,
       absl::StatusCode::kNotFound,
       "ioctl(/dev/null, FILEMON_SET_PID, ",
       "or it is exiting or in the middle of an exec"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.prefix);
    KernelDeviceHooks hooks = NoOpHooks();
    hooks.set_pid_in_child = c.set_pid;
    std::unique_ptr<Backend> backend = NewKernelBackendUnchecked(DevNullOptions(), hooks);
    TextSink sink;
    Command command;
    command.argv = c.argv;
    command.cwd = c.cwd;
    absl::StatusOr<ExitStatus> exit = backend->Run(command, {}, &sink);
    ASSERT_FALSE(exit.ok());
    EXPECT_EQ(exit.status().code(), c.code) << exit.status();
    EXPECT_TRUE(absl::StartsWith(exit.status().message(), c.prefix)) << exit.status();
    EXPECT_TRUE(absl::EndsWith(exit.status().message(), c.suffix)) << exit.status();
  }
}

TEST(KernelBackendSimulated, SetFdFailureNamesTheCall) {
  KernelDeviceHooks hooks = NoOpHooks();
  hooks.set_log_fd = [](int) { return EEXIST; };
  std::unique_ptr<Backend> backend = NewKernelBackendUnchecked(DevNullOptions(), hooks);
  TextSink sink;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), {}, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(absl::EndsWith(exit.status().message(),
                             "already has a log descriptor (one "
                             "FILEMON_SET_FD per open)"))
      << exit.status();
}

// The whole backend on the real device: records of a shell and its child, exit status.
TEST(KernelBackend, RoundTripOnTheRealDevice) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeKernelBackend();
  if (!backend.ok()) GTEST_SKIP() << "no usable filemon(4) device: " << backend.status();
  std::string dir = std::getenv("TEST_TMPDIR");
  TextSink sink;
  Command command;
  command.argv = {"/bin/sh", "-c", "cat /etc/hosts > out.txt; (sleep 0.2; :) & exit 3"};
  command.cwd = dir;
  absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, {}, &sink);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 3);
  EXPECT_TRUE(absl::StrContains(sink.text, " /bin/sh\n")) << sink.text;
  EXPECT_TRUE(absl::StrContains(sink.text, " /etc/hosts\n")) << sink.text;
  EXPECT_TRUE(absl::StrContains(sink.text, " out.txt\n")) << sink.text;
  EXPECT_FALSE(absl::StrContains(sink.text, "# ")) << "no header or footer lines";
  // The orphaned subshell's exit is in the log: Run waited for it.
  size_t forks = 0, exits = 0;
  for (size_t p = 0; (p = sink.text.find('\n', p)) != std::string::npos; ++p) {
    if (sink.text.compare(p + 1, 2, "F ") == 0) ++forks;
    if (sink.text.compare(p + 1, 2, "X ") == 0) ++exits;
  }
  if (sink.text.compare(0, 2, "X ") == 0) ++exits;
  EXPECT_EQ(exits, forks + 1) << sink.text;
  ExpectTreeOrder(sink.text);
}

}  // namespace
}  // namespace filemon
