// File: filemon/backends/preload/raw_process.h
//
// What a child between its creation and its exec does to itself (signal actions, its mask,
// its output descriptors, its exit), in raw system calls (raw_syscall.h): for a child that
// runs in its parent's memory and with a thread pointer of the parent's (a clone with
// CLONE_VM, a vfork), where a libc call's write to `errno` would land in a thread of the
// parent's that is running meanwhile. Each returns 0 or an errno value where it can fail.
//
// Example:
//   ResetCaughtSignals();          // none of the parent's handlers may run here
//   SetSignalMask(0);
//   if (RedirectOutput(command) != 0) RawExit(127);

#ifndef FILEMON_BACKENDS_PRELOAD_RAW_PROCESS_H_
#define FILEMON_BACKENDS_PRELOAD_RAW_PROCESS_H_

#include <signal.h>
#include <sys/syscall.h>

#include <cstdint>

#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/core/backend.h"

namespace filemon {
namespace preload_internal {

// The kernel's struct for rt_sigaction (libc's differs).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};

// The kernel's signal set: bit `sig - 1` for signal `sig`.
constexpr uint64_t SignalBit(int sig) { return uint64_t{1} << (sig - 1); }

inline void SetSignalAction(int sig, void (*handler)(int)) {
  KernelSigaction action = {};
  action.handler = handler;
  RawSyscall4(SYS_rt_sigaction, sig, reinterpret_cast<long>(&action), 0, sizeof(uint64_t));
}

// Returns false if `sig` has no action to read (SIGKILL, SIGSTOP, beyond the kernel's range).
inline bool GetSignalAction(int sig, KernelSigaction* old) {
  return RawSyscall4(SYS_rt_sigaction, sig, 0, reinterpret_cast<long>(old), sizeof(uint64_t)) == 0;
}

// Every signal with a handler gets its default action, as an exec would give it.
inline void ResetCaughtSignals() {
  for (int sig = 1; sig <= 64; ++sig) {
    KernelSigaction old;
    if (GetSignalAction(sig, &old) && old.handler != SIG_DFL && old.handler != SIG_IGN) {
      SetSignalAction(sig, SIG_DFL);
    }
  }
}

inline void SetSignalMask(uint64_t mask) {
  RawSyscall4(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&mask), 0, sizeof(uint64_t));
}

// The first 64 signals of a libc signal set, as SetSignalMask takes them.
inline uint64_t KernelSignalSet(const sigset_t& set) {
  uint64_t mask = 0;
  for (int sig = 1; sig <= 64; ++sig) {
    if (sigismember(&set, sig) == 1) mask |= SignalBit(sig);
  }
  return mask;
}

[[noreturn]] inline void RawExit(int code) {
  while (true) RawSyscall1(SYS_exit_group, code);
}

// RedirectCommandOutput's dup2s (backend.h). Returns 0 or an errno value.
inline int RedirectOutput(const Command& command) {
  const int from[] = {command.stdout_fd, command.stderr_fd};
  for (int to = 1; to <= 2; ++to) {
    const int fd = from[to - 1];
    if (fd < 0 || fd == to) continue;
    const long r = RawSyscall3(SYS_dup3, fd, to, 0);
    if (r < 0) return static_cast<int>(-r);
  }
  return 0;
}

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_RAW_PROCESS_H_
