// File: filemon/backends/preload/reaper.h
//
// The reaper: a child of the supervisor, a child subreaper (so that orphans and daemons of the
// traced tree are reparented to it and stay in the tree), which starts the command, reaps
// every process that its parent does not, and reports through the control socket (wire
// format messages, kind kExit records):
//   kRootStarted (the command's pid) or kRootExecError (errno; signal 1: chdir, 0: execve,
//   2: fork), kRootUntraced before an exec without the interposer, kReaped for every process
//   reaped, kRootExit for the command, kDone when nothing traced is left.
// The kernel refuses an exec whose argv and environment exceed its limit (E2BIG), which the
// interposer's variables may cross for a command that fits untraced: the command's process
// then tries `without_caches`, then `untraced` (each if given), so that it runs whenever it
// would have run untraced. A process killed by a signal thus still gets its X.
// It ignores (and blocks until the command's exec) the signals a terminal sends to the whole
// group, so that a ^C reaches the command, which decides, while reaping goes on; the command
// gets their default action back (or keeps the caller's SIG_IGN). It dies with the supervisor
// (PR_SET_PDEATHSIG).

#ifndef FILEMON_BACKENDS_PRELOAD_REAPER_H_
#define FILEMON_BACKENDS_PRELOAD_REAPER_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "filemon/backends/preload/launch_environment.h"
#include "filemon/core/backend.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace preload_internal {

// What the reaper's child execs. Everything is built before fork: the child allocates nothing.
struct ReaperLaunch {
  const Command* command = nullptr;  // its cwd and output redirection
  const char* program = nullptr;     // the path execve gets
  ExecArrays* exec = nullptr;        // argv and envp (FILEMON_PRELOAD_PID set by the child)
  // On E2BIG: the environment without the optional variables; nullptr: none to drop.
  ExecArrays* without_caches = nullptr;
  // On E2BIG again: the command's own environment, run untraced; nullptr: fail with E2BIG.
  ExecArrays* untraced = nullptr;
  int socket_fd = -1;   // the traced tree's socket, inherited by the command
  int pipe_fd = -1;     // the traced tree's pipe (-1: none), inherited by the command
  int control_fd = -1;  // the reaper's control socket; not inherited by the command
};

class Reaper {
 public:
  // Forks the reaper. Returns the fork's error.
  static absl::StatusOr<Reaper> Start(const ReaperLaunch& launch);

  Reaper(Reaper&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  Reaper& operator=(Reaper&&) = delete;
  Reaper(const Reaper&) = delete;
  // Reaps the reaper if `Wait` did not: it never stays a zombie.
  ~Reaper() { Wait(); }

  // -1 once reaped.
  pid_t pid() const { return pid_; }
  // A pidfd that becomes readable when the reaper exits; invalid on kernels without
  // pidfd_open (< 5.3).
  OwnedFd OpenPidfd() const;
  // True (and reaped) if the reaper has exited; never blocks.
  bool Exited();
  // Waits for the reaper's exit and reaps it.
  void Wait();
  // Every process under the reaper (the traced tree, orphans included); none once reaped.
  std::vector<pid_t> Tree() const;

 private:
  explicit Reaper(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_REAPER_H_
