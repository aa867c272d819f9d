// File: filemon/backends/preload/reaper_testing.h (tests only)
//
// What the reaper's tests set up to start a command through a reaper: the command, its exec
// arrays and the control socket, in one object that the ReaperLaunch points into. Header-only
// and listed in each test's srcs: reaper_unoptimized_test compiles reaper.cc itself, so that
// it cannot link a library that depends on :reaper.
//
// Example:
//   TestLaunch test({"/bin/true"});
//   absl::StatusOr<Reaper> reaper = Reaper::Start(test.launch);
//   test.reaper_end.reset();  // the supervisor's end now reads EOF once the reaper has gone

#ifndef FILEMON_BACKENDS_PRELOAD_REAPER_TESTING_H_
#define FILEMON_BACKENDS_PRELOAD_REAPER_TESTING_H_

#include <sys/socket.h>

#include <string>
#include <utility>
#include <vector>

#include "filemon/backends/preload/launch_environment.h"
#include "filemon/backends/preload/reaper.h"
#include "filemon/core/backend.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace preload_internal {

struct TestLaunch {
  // `argv` with the environment `env` (by default the launch environment of a command without
  // variables of its own), program argv[0], and a fresh control socket (both ends invalid if
  // socketpair failed).
  explicit TestLaunch(const std::vector<std::string>& argv,
                      std::vector<std::string> env = BuildLaunchEnvironment({}, LaunchSettings()))
      : exec(argv, std::move(env)) {
    command.argv = argv;
    int control[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) == 0) {
      supervisor_end.reset(control[0]);
      reaper_end.reset(control[1]);
    }
    launch.command = &command;
    launch.program = command.argv[0].c_str();
    launch.exec = &exec;
    launch.control_fd = reaper_end.get();
  }
  TestLaunch(const TestLaunch&) = delete;  // `launch` points into this object
  TestLaunch& operator=(const TestLaunch&) = delete;

  Command command;
  ExecArrays exec;
  OwnedFd supervisor_end;  // where the reaper's reports arrive
  OwnedFd reaper_end;      // the reaper's control socket
  ReaperLaunch launch;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_REAPER_TESTING_H_
