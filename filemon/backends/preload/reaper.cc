#include "filemon/backends/preload/reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "filemon/backends/preload/proc_tree.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {
namespace {

// The signals a terminal or a supervisor sends to a whole process group. The reaper ignores
// them; the caller passes them on through `TraceOptions::control`.
constexpr int kGroupSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr size_t kGroupSignalCount = sizeof(kGroupSignals) / sizeof(kGroupSignals[0]);

// Sends one message from the reaper or the command's child through the control socket, which
// only they hold (async-signal-safe).
void SendFromChild(int control, MessageType type, int pid, int status, int signal) {
  const ControlMessage message =
      MakeControlMessage(type, static_cast<int32_t>(getpid()), pid, status, signal);
  while (send(control, &message, sizeof(message), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// The command's process: restores the group signals, then execs. Never returns. It is the
// child of a vfork, sharing the reaper's memory until its exec or _exit: it only makes system
// calls and writes nothing the reaper reads (the pid it sets in the exec arrays is its own).
[[noreturn]] void ExecCommand(const ReaperLaunch& launch, const bool* restore) {
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  for (size_t i = 0; i < kGroupSignalCount; ++i) {
    if (restore[i]) sigaction(kGroupSignals[i], &default_action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // FILEMON_PRELOAD_PID: this pid execs, so the interposer writes no F for it.
  launch.exec->SetPid(getpid());
  const char* cwd = launch.command->cwd.c_str();
  if (cwd[0] != '\0' && chdir(cwd) != 0) {
    SendFromChild(launch.control_fd, MessageType::kRootExecError, getpid(), errno, 1);
    _exit(127);
  }
  execve(launch.program, launch.exec->argv(), launch.exec->envp());
  if (errno == E2BIG && launch.without_caches != nullptr) {
    launch.without_caches->SetPid(getpid());
    execve(launch.program, launch.without_caches->argv(), launch.without_caches->envp());
  }
  if (errno == E2BIG && launch.untraced != nullptr) {
    SendFromChild(launch.control_fd, MessageType::kRootUntraced, getpid(), E2BIG, 0);
    execve(launch.program, launch.untraced->argv(), launch.untraced->envp());
  }
  SendFromChild(launch.control_fd, MessageType::kRootExecError, getpid(), errno, 0);
  _exit(127);
}

// Starts the command's process: returns once it has exec'd or given up. A vfork, not a fork:
// the reaper is a copy of the supervisor's whole image, which a fork would copy again (page
// tables, then copy-on-write faults on both sides until the exec). The reaper is
// single-threaded, so the suspension is its alone. A function of its own so that nothing of
// the caller's frame is live across the vfork.
__attribute__((noinline)) pid_t StartCommand(const ReaperLaunch& launch, const bool* restore) {
  const pid_t pid = vfork();
  if (pid == 0) ExecCommand(launch, restore);
  return pid;
}

// The reaper's body, between fork and _exit in a copy of a possibly multi-threaded process:
// only async-signal-safe calls, no allocation.
[[noreturn]] void RunReaper(const ReaperLaunch& launch, pid_t supervisor) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The supervisor died before the death signal was armed (this child may run well after the
  // fork on a busy machine): nobody would read the tree's pipe, which this process holds open.
  if (getppid() != supervisor) _exit(127);
  if (launch.pipe_fd >= 0) fcntl(launch.pipe_fd, F_SETFD, 0);  // inherited by the command
  struct sigaction ignore, old;
  std::memset(&ignore, 0, sizeof(ignore));
  ignore.sa_handler = SIG_IGN;
  bool restore[kGroupSignalCount] = {};
  // Also blocked, so that one sent to the command before it has its default action back stays
  // pending (a blocked signal is kept even while ignored) instead of being discarded.
  sigset_t group;
  sigemptyset(&group);
  for (size_t i = 0; i < kGroupSignalCount; ++i) {
    restore[i] = sigaction(kGroupSignals[i], &ignore, &old) == 0 && old.sa_handler != SIG_IGN;
    sigaddset(&group, kGroupSignals[i]);
  }
  sigprocmask(SIG_BLOCK, &group, nullptr);
  fcntl(launch.socket_fd, F_SETFD, 0);  // inherited by the command
  const pid_t root = StartCommand(launch, restore);
  if (root < 0) {
    SendFromChild(launch.control_fd, MessageType::kRootExecError, getpid(), errno, 2);
    _exit(127);
  }
  SendFromChild(launch.control_fd, MessageType::kRootStarted, root, 0, 0);
  while (true) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing traced is left
    }
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) continue;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    SendFromChild(launch.control_fd, MessageType::kReaped, pid, code, signal);
    if (pid == root) SendFromChild(launch.control_fd, MessageType::kRootExit, pid, code, signal);
  }
  SendFromChild(launch.control_fd, MessageType::kDone, 0, 0, 0);
  _exit(0);
}

}  // namespace

absl::StatusOr<Reaper> Reaper::Start(const ReaperLaunch& launch) {
  const pid_t supervisor = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // The reaper passes the command's stdout/stderr on to it; a failed dup2 ends the run with
    // "the reaper ended before the command".
    if (RedirectCommandOutput(*launch.command) != 0) _exit(127);
    RunReaper(launch, supervisor);
  }
  if (pid < 0) return absl::ErrnoToStatus(errno, "preload: fork");
  return Reaper(pid);
}

OwnedFd Reaper::OpenPidfd() const {
  return OwnedFd(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
}

bool Reaper::Exited() {
  int status;
  if (pid_ <= 0) return true;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
}

void Reaper::Wait() {
  if (pid_ <= 0) return;
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::vector<pid_t> Reaper::Tree() const {
  if (pid_ <= 0) return {};
  return Descendants(pid_);
}

}  // namespace preload_internal
}  // namespace filemon
