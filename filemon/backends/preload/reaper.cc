#include "filemon/backends/preload/reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <new>

#include "absl/status/status.h"
#include "filemon/backends/preload/proc_tree.h"
#include "filemon/backends/preload/raw_process.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {
namespace {

// The signals a terminal or a supervisor sends to a whole process group. The reaper ignores
// them; the caller passes them on through `TraceOptions::control`.
constexpr int kGroupSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr size_t kGroupSignalCount = sizeof(kGroupSignals) / sizeof(kGroupSignals[0]);

// The reaper and the command's process before its exec run in the supervisor's memory (see
// Reaper::Start) and with its thread pointer: they make raw system calls only, so that no libc
// call writes `errno` or any other thread-local of the thread that started them (the one libc
// call, StartCommand's clone, says why it may).

// Sends one message from the reaper or the command's child through the control socket, which
// only they hold.
void SendFromChild(int control, MessageType type, int pid, int status, int signal) {
  const ControlMessage message =
      MakeControlMessage(type, static_cast<int32_t>(RawSyscall0(SYS_getpid)), pid, status, signal);
  while (RawSyscall6(SYS_sendto, control, reinterpret_cast<long>(&message), sizeof(message),
                     MSG_NOSIGNAL, 0, 0) == -EINTR) {
  }
}

// The command's process: restores the group signals, then execs. Never returns. It is the
// child of a vfork, sharing the reaper's memory until its exec or exit: it writes nothing the
// reaper reads (the pid it sets in the exec arrays is its own).
[[noreturn]] __attribute__((noinline)) void ExecCommand(const ReaperLaunch& launch,
                                                        const bool* restore) {
  for (size_t i = 0; i < kGroupSignalCount; ++i) {
    if (restore[i]) SetSignalAction(kGroupSignals[i], SIG_DFL);
  }
  SetSignalMask(0);
  const int self = static_cast<int>(RawSyscall0(SYS_getpid));
  // FILEMON_PRELOAD_PID: this pid execs, so the interposer writes no F for it.
  launch.exec->SetPid(self);
  const char* cwd = launch.command->cwd.c_str();
  if (cwd[0] != '\0') {
    const long r = RawSyscall1(SYS_chdir, reinterpret_cast<long>(cwd));
    if (r < 0) {
      SendFromChild(launch.control_fd, MessageType::kRootExecError, self, static_cast<int>(-r), 1);
      RawExit(127);
    }
  }
  const auto exec = [&launch](ExecArrays* arrays) {
    return RawSyscall3(SYS_execve, reinterpret_cast<long>(launch.program),
                       reinterpret_cast<long>(arrays->argv()),
                       reinterpret_cast<long>(arrays->envp()));
  };
  long error = exec(launch.exec);
  if (error == -E2BIG && launch.without_caches != nullptr) {
    launch.without_caches->SetPid(self);
    error = exec(launch.without_caches);
  }
  if (error == -E2BIG && launch.untraced != nullptr) {
    SendFromChild(launch.control_fd, MessageType::kRootUntraced, self, E2BIG, 0);
    error = exec(launch.untraced);
  }
  SendFromChild(launch.control_fd, MessageType::kRootExecError, self, static_cast<int>(-error), 0);
  RawExit(127);
}

// What the command's process starts with (StartCommand).
struct CommandArgs {
  const ReaperLaunch* launch;
  const bool* restore;
};

int ExecCommandMain(void* args) {
  const CommandArgs& command = *static_cast<const CommandArgs*>(args);
  ExecCommand(*command.launch, command.restore);
}

// Starts the command's process: returns its pid once it has exec'd or given up, or -errno. A
// vfork, not a fork: the reaper's image is the supervisor's, which a fork would copy (page
// tables, then copy-on-write faults until the exec). The reaper is single-threaded, so the
// suspension is its alone.
//
// The child runs on `stack_top`, a stack of its own, never on the reaper's: a child that ran on
// the reaper's stack below this frame (a raw clone syscall made from C++, like vfork()) would
// return out of and overwrite the frames of the calls that made the syscall, and the reaper
// would resume through them; at -O0, where those calls are not inlined, it crashed. glibc's
// clone() switches to `stack_top` in assembly before it calls ExecCommandMain, as posix_spawn
// does, and its child path touches no thread-local. Its parent path writes `errno` only when
// the kernel refuses the clone (it returns -1), and this reads it back at once. That write
// lands in the thread-local of the thread that started the reaper, whose thread pointer the
// reaper shares: it can only happen when no command can start, so the run fails with
// kRootExecError anyway, and at worst either side reads the other's errno value of that moment.
__attribute__((noinline)) long StartCommand(const ReaperLaunch& launch, const bool* restore,
                                            char* stack_top) {
  CommandArgs args{&launch, restore};
  const int pid = clone(ExecCommandMain, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (pid >= 0) return pid;
  const int error = errno;
  return -(error > 0 ? error : EAGAIN);
}

// What the reaper runs with (Reaper::Start).
struct ReaperJob {
  ReaperLaunch launch;
  pid_t supervisor;
  char* command_stack_top;  // the command's process's stack until its exec (StartCommand)
};

// The reaper's body. Every caught signal gets its default action: the supervisor's handlers
// must not run here.
[[noreturn]] void RunReaper(const ReaperJob& job) {
  const ReaperLaunch& launch = job.launch;
  // A failed dup2 ends the run with "the reaper ended before the command".
  if (RedirectOutput(*launch.command) != 0) RawExit(127);
  RawSyscall2(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1);
  RawSyscall2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  // The supervisor died before the death signal was armed (this child may run well after the
  // fork on a busy machine): nobody would read the tree's pipe, which this process holds open.
  if (RawSyscall0(SYS_getppid) != job.supervisor) RawExit(127);
  if (launch.pipe_fd >= 0) RawSyscall3(SYS_fcntl, launch.pipe_fd, F_SETFD, 0);  // inherited
  ResetCaughtSignals();
  bool restore[kGroupSignalCount] = {};
  // Also blocked, so that one sent to the command before it has its default action back stays
  // pending (a blocked signal is kept even while ignored) instead of being discarded.
  uint64_t group = 0;
  for (size_t i = 0; i < kGroupSignalCount; ++i) {
    KernelSigaction old;
    restore[i] = GetSignalAction(kGroupSignals[i], &old) && old.handler != SIG_IGN;
    SetSignalAction(kGroupSignals[i], SIG_IGN);
    group |= SignalBit(kGroupSignals[i]);
  }
  SetSignalMask(group);
  RawSyscall3(SYS_fcntl, launch.socket_fd, F_SETFD, 0);  // inherited by the command
  const long root = StartCommand(launch, restore, job.command_stack_top);
  if (root < 0) {
    SendFromChild(launch.control_fd, MessageType::kRootExecError,
                  static_cast<int>(RawSyscall0(SYS_getpid)), static_cast<int>(-root), 2);
    RawExit(127);
  }
  SendFromChild(launch.control_fd, MessageType::kRootStarted, static_cast<int>(root), 0, 0);
  while (true) {
    int status = 0;
    const long pid = RawSyscall4(SYS_wait4, -1, reinterpret_cast<long>(&status), __WALL, 0);
    if (pid == -EINTR) continue;
    if (pid < 0) break;  // ECHILD: nothing traced is left
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) continue;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    SendFromChild(launch.control_fd, MessageType::kReaped, static_cast<int>(pid), code, signal);
    if (pid == root) {
      SendFromChild(launch.control_fd, MessageType::kRootExit, static_cast<int>(pid), code, signal);
    }
  }
  SendFromChild(launch.control_fd, MessageType::kDone, 0, 0, 0);
  RawExit(0);
}

int ReaperMain(void* job) { RunReaper(*static_cast<const ReaperJob*>(job)); }

// The reaper's mapping (Reaper::Start), and the part of it that is the command's stack until
// its exec: ExecCommand needs well under 1 KiB even at -O0.
constexpr size_t kStackBytes = size_t{64} << 10;
constexpr size_t kCommandStackBytes = size_t{8} << 10;

}  // namespace

// Sanitizers keep per-thread state that the reaper, sharing the caller's thread pointer, would
// corrupt: their builds fork it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FILEMON_REAPER_FORKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FILEMON_REAPER_FORKS 1
#endif
#endif

absl::StatusOr<Reaper> Reaper::Start(const ReaperLaunch& launch) {
  // The mapping holds, from the bottom: a guard page, the command's process's stack until its
  // exec (StartCommand), the reaper's stack (when it is cloned), the reaper's job at the top.
  void* stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return absl::ErrnoToStatus(errno, "preload: mmap(reaper stack)");
  Reaper reaper(-1, stack);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  mprotect(stack, page, PROT_NONE);
  char* top = static_cast<char*>(stack) + kStackBytes - sizeof(ReaperJob);
  ReaperJob* copy =
      new (top) ReaperJob{launch, getpid(), static_cast<char*>(stack) + page + kCommandStackBytes};
  top = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t{15});
#ifdef FILEMON_REAPER_FORKS
  const pid_t pid = fork();
  if (pid == 0) RunReaper(*copy);
  if (pid < 0) return absl::ErrnoToStatus(errno, "preload: fork");
#else
  // The reaper shares the caller's memory (CLONE_VM) instead of a fork's copy of it: no page
  // tables to copy, no copy-on-write fault on either side for as long as the run lasts. It has
  // a stack of its own, a copy of `launch` (whose pointers outlive it: Trace waits for it), and
  // every signal blocked until it has put its own actions in place.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = clone(ReaperMain, top, CLONE_VM | SIGCHLD, copy);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return absl::ErrnoToStatus(clone_errno, "preload: clone");
#endif
  reaper.pid_ = pid;
  return reaper;
}

OwnedFd Reaper::OpenPidfd() const {
  return OwnedFd(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
}

bool Reaper::Exited() {
  int status;
  if (pid_ <= 0) return true;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  ReleaseStack();
  return true;
}

void Reaper::Wait() {
  if (pid_ > 0) {
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  ReleaseStack();
}

void Reaper::ReleaseStack() {
  if (stack_ != nullptr) munmap(stack_, kStackBytes);
  stack_ = nullptr;
}

std::vector<pid_t> Reaper::Tree() const {
  if (pid_ <= 0) return {};
  return Descendants(pid_);
}

}  // namespace preload_internal
}  // namespace filemon
