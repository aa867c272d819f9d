// The reaper dies with the supervisor (reaper.h), even when the supervisor dies as the reaper
// starts: a reaper that outlived it would hold the traced tree's pipe open with nobody reading,
// so the tree, running on unrecorded, would block once the pipe filled.

#include "filemon/backends/preload/reaper.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "filemon/backends/preload/launch_environment.h"
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
    int control[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) _exit(1);
    Command command;
    command.argv = {"/bin/sleep", "0.5"};
    ExecArrays exec(command.argv, BuildLaunchEnvironment({}, LaunchSettings()));
    ReaperLaunch launch;
    launch.command = &command;
    launch.program = "/bin/sleep";
    launch.exec = &exec;
    launch.control_fd = control[1];
    absl::StatusOr<Reaper> reaper = Reaper::Start(launch);
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

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
