// The reaper dies with the supervisor (reaper.h), even when the supervisor dies as the reaper
// starts: a reaper that outlived it would hold the traced tree's pipe open with nobody reading,
// so the tree, running on unrecorded, would block once the pipe filled.

#include "filemon/backends/preload/reaper.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "filemon/backends/preload/launch_environment.h"
#include "filemon/backends/preload/reaper_testing.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// Forks a supervisor that starts a reaper (command: sleep) and dies by SIGKILL at once; returns
// the reaper's pid (0 if the supervisor could not say).
pid_t ReaperOfAKilledSupervisor() {
  int report[2];
  if (pipe(report) != 0) return 0;
  const pid_t supervisor = fork();
  if (supervisor == 0) {
    close(report[0]);
    TestLaunch test({"/bin/sleep", "0.5"});
    if (!test.reaper_end.valid()) _exit(1);
    absl::StatusOr<Reaper> reaper = Reaper::Start(test.launch);
    if (!reaper.ok()) _exit(1);
    const pid_t pid = reaper->pid();
    if (write(report[1], &pid, sizeof(pid)) != sizeof(pid)) _exit(1);
    raise(SIGKILL);
  }
  close(report[1]);
  pid_t reaper = 0;
  if (read(report[0], &reaper, sizeof(reaper)) != sizeof(reaper)) reaper = 0;
  close(report[0]);
  waitpid(supervisor, nullptr, 0);
  return reaper;
}

TEST(Reaper, DiesWithASupervisorKilledAsItStarts) {
  // Orphans come to this process, which can then wait for them.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int survived = 0;
  for (int run = 0; run < 50; ++run) {
    const pid_t reaper = ReaperOfAKilledSupervisor();
    ASSERT_GT(reaper, 0);
    // The reaper is ours now; the command (sleep 0.5) too, if it started.
    bool gone = false;
    for (int i = 0; i < 25 && !gone; ++i) {
      int status;
      gone = waitpid(reaper, &status, WNOHANG) == reaper;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!gone) {
      ++survived;
      kill(reaper, SIGKILL);
      waitpid(reaper, nullptr, 0);
    }
    // The command, if it started (orphaned to us as well): not waited for.
    std::ifstream children("/proc/self/task/" + std::to_string(getpid()) + "/children");
    for (pid_t pid; children >> pid;) kill(pid, SIGKILL);
    while (waitpid(-1, nullptr, 0) > 0) {
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_EQ(survived, 0) << survived << " of 50 reapers outlived their supervisor by 250 ms";
}

// What the reaper reported on its control socket for one command: each message's type, and
// the errno or exit code it carries.
struct Reported {
  std::vector<MessageType> types;
  int exec_error = 0;  // kRootExecError's errno
  int exit_code = -1;  // kRootExit's code
};

// Starts `argv` through a reaper with the environments `full`, `lean` (the reaper's
// `without_caches`) and, if not null, `untraced`, and collects its reports until it is done.
Reported LaunchReports(const std::vector<std::string>& argv, std::vector<std::string> full,
                       std::vector<std::string> lean, const std::vector<std::string>* untraced) {
  Reported reported;
  TestLaunch test(argv, std::move(full));
  if (!test.reaper_end.valid()) return reported;
  ExecArrays without_caches(argv, std::move(lean));
  std::unique_ptr<ExecArrays> bare;
  if (untraced != nullptr) bare = std::make_unique<ExecArrays>(argv, *untraced);
  test.launch.without_caches = &without_caches;
  test.launch.untraced = bare.get();
  absl::StatusOr<Reaper> reaper = Reaper::Start(test.launch);
  test.reaper_end.reset();
  if (!reaper.ok()) return reported;
  ControlMessage message;
  while (recv(test.supervisor_end.get(), &message, sizeof(message), 0) == sizeof(message)) {
    reported.types.push_back(message.header.type);
    if (message.header.type == MessageType::kRootExecError) {
      reported.exec_error = message.record.status;
    }
    if (message.header.type == MessageType::kRootExit) reported.exit_code = message.record.status;
    if (message.header.type == MessageType::kDone) break;
  }
  reaper->Wait();
  return reported;
}

bool Has(const Reported& reported, MessageType type) {
  return std::find(reported.types.begin(), reported.types.end(), type) != reported.types.end();
}

// The launch protocol's variables count against the kernel's limit on an exec's argv and
// environment: the command's process tries the environment without the optional ones, then
// (if given) its own, untraced, which it announces; so a command that fits untraced runs.
TEST(Reaper, ACommandAtTheKernelsLimitRunsWithFewerVariablesOrUntraced) {
  const std::vector<std::string> own = {"A=1"};
  LaunchSettings settings;
  settings.library = "";  // LD_PRELOAD= : nothing for the loader to load
  const std::vector<std::string> lean = BuildLaunchEnvironment(own, settings);
  settings.locale_shm_path = "/proc/1/fd/" + std::string(100 * 1000, '9');  // beyond any slack
  const std::vector<std::string> full = BuildLaunchEnvironment(own, settings);
  auto command = [](size_t n) {
    std::vector<std::string> argv(n + 1, std::string(99, 'x'));
    argv[0] = "/bin/true";
    return argv;
  };
  // The most arguments that fit with the lean environment: the full one does not fit.
  const size_t with_lean = testing_internal::MostArgumentsThatRun(command, lean);
  ASSERT_GT(with_lean, 0u);
  Reported r = LaunchReports(command(with_lean), full, lean, &own);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(Has(r, MessageType::kRootUntraced));
  EXPECT_FALSE(Has(r, MessageType::kRootExecError));
  // The most that fit with the command's own: only untraced.
  const size_t with_own = testing_internal::MostArgumentsThatRun(command, own);
  ASSERT_GT(with_own, with_lean);
  r = LaunchReports(command(with_own), full, lean, &own);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Has(r, MessageType::kRootUntraced));
  // Without the untraced environment (auto, which hands the command to ptrace): E2BIG.
  r = LaunchReports(command(with_own), full, lean, nullptr);
  EXPECT_EQ(r.exec_error, E2BIG);
  EXPECT_EQ(r.exit_code, 127);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
