#include "filemon/backends/preload/session_exec_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "filemon/backends/preload/exec_argv.h"
#include "filemon/backends/preload/exec_probe.h"
#include "filemon/backends/preload/exec_probe_cache.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/user_memory.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {

// exec_argv.h is hidden inside the interposer's units: the session library reaches its release
// through this unit, which links it.
void ReleaseHandoffRooms() { ReleaseVforkChildRooms(); }

int SendPrepared(int pipe, pid_t self) {
  if (pipe < 0) return 0;
  const int32_t pid = static_cast<int32_t>(self);
  ControlMessage message = MakeControlMessage(MessageType::kRecords, pid, pid, 0, 0);
  message.record.kind = WireKind::kPrepared;
  static_assert(sizeof(message) <= kMaxPipeMessage, "one atomic pipe write");
  const int saved_errno = errno;
  // No EPIPE (nor its SIGPIPE, which would kill the child before it could return the error):
  // it needs every read end of the tree's pipe closed, and this child holds one itself, the
  // copy its fork or vfork gave it of the supervisor's (made with the tree, before the fork;
  // close-on-exec closes it at the exec only). The caller's own stays open too, as a rule,
  // until every write end is closed (this child's included). A caller that closed descriptors
  // it does not own, or put something else at `pipe`, broke PrepareChild's contract.
  ssize_t written;
  while ((written = write(pipe, &message, sizeof(message))) < 0 && errno == EINTR) {
  }
  const int error = written < 0 ? errno : 0;
  errno = saved_errno;
  return error;
}

}  // namespace preload_internal
}  // namespace filemon

#if defined(__x86_64__) && defined(__linux__)

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

// The one range of code whose system calls are not dispatched: a six-argument system call and
// the signal return of the handler below. The kernel judges a call by the address after its
// `syscall` instruction, which must be inside the range too (hence the `ud2` at the end).
extern "C" {
long filemon_handoff_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
    __attribute__((visibility("hidden")));
void filemon_handoff_restorer() __attribute__((visibility("hidden")));
extern const char filemon_handoff_begin[] __attribute__((visibility("hidden")));
extern const char filemon_handoff_end[] __attribute__((visibility("hidden")));
}

asm(R"(
  .text
  .p2align 4
  .globl filemon_handoff_begin
  .hidden filemon_handoff_begin
  .globl filemon_handoff_syscall
  .hidden filemon_handoff_syscall
  .type filemon_handoff_syscall, @function
filemon_handoff_begin:
filemon_handoff_syscall:
  mov %rdi, %rax
  mov %rsi, %rdi
  mov %rdx, %rsi
  mov %rcx, %rdx
  mov %r8, %r10
  mov %r9, %r8
  mov 8(%rsp), %r9
  syscall
  ret
  .size filemon_handoff_syscall, .-filemon_handoff_syscall
  .globl filemon_handoff_restorer
  .hidden filemon_handoff_restorer
  .type filemon_handoff_restorer, @function
filemon_handoff_restorer:
  mov $15, %eax
  syscall
  ud2
  .size filemon_handoff_restorer, .-filemon_handoff_restorer
  .globl filemon_handoff_end
  .hidden filemon_handoff_end
filemon_handoff_end:
)");

namespace filemon {
namespace preload_internal {
namespace {

// The selector of the dispatch (read by the kernel at each system call), and the helper. In
// the caller's memory after vfork: written only by the child, which the parent waits for.
volatile char g_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
const char* g_helper = nullptr;
const ExecFallbacks* g_fallbacks = nullptr;
// Whether the caller's code has SIGSYS blocked. The dispatch needs it unblocked (a blocked
// SIGSYS at a dispatched call kills the process), so the mask the caller's code runs with
// never blocks it; the caller's wish is kept here, and applied once the dispatch is over.
bool g_sigsys_blocked = false;

constexpr unsigned long kSigsysBit = 1UL << (SIGSYS - 1);

// The mask `mask` the caller's code runs with, with SIGSYS as the caller asked for it.
// `out` may be `mask`.
void CallersFullMask(const sigset_t* mask, sigset_t* out) {
  *out = *mask;
  if (g_sigsys_blocked) sigaddset(out, SIGSYS);
}

long Call(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0, long a6 = 0) {
  return filemon_handoff_syscall(nr, a1, a2, a3, a4, a5, a6);
}

// The caller's execve(path, argv, envp) of a program the interposer cannot enter: the helper
// instead, without LD_PRELOAD, with the mask the caller's code left: `mask`, or, if null, the
// thread's as it is (called from the caller's code, not from the handler). Returns only on
// failure.
void ExecHelper(const char* path, char* const* argv, char* const* envp, const sigset_t* mask) {
  const ExecProbe probe = ProbeExecutableRemembered(path);
  if (probe.kind == ExecKind::kPreloadable || probe.kind == ExecKind::kUnknown ||
      probe.kind == ExecKind::kSecure) {
    return;  // the interposer enters it (or a set-ID program keeps its privilege)
  }
  if (Call(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0) != 0) return;
  // What the kernel cannot read is not read here: the caller's own exec fails (EFAULT).
  if (!ReadableArray(argv) || !ReadableStrings(envp)) return;
  ArgvRoom helper_argv(HelperArgvEntries(argv));
  ArgvRoom helper_env(CountEntries(envp) + 1);
  if (helper_argv.args() == nullptr || helper_env.args() == nullptr) return;
  BuildHelperArgv(g_helper, path, argv, helper_argv.args());
  size_t n = 0;
  for (size_t i = 0; envp != nullptr && envp[i] != nullptr; ++i) {
    if (std::strncmp(envp[i], "LD_PRELOAD=", 11) != 0) helper_env.args()[n++] = envp[i];
  }
  helper_env.args()[n] = nullptr;
  if (mask != nullptr) {
    Call(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(mask), 0, sizeof(long));
  }
  Call(SYS_execve, reinterpret_cast<long>(g_helper), reinterpret_cast<long>(helper_argv.args()),
       reinterpret_cast<long>(helper_env.args()));
}

// The caller's execve(path, argv, envp); if the kernel refuses it with E2BIG, again with each
// fallback environment in turn. Returns the last result.
long ExecWithFallbacks(long path, long argv, char* const* envp) {
  long rc = Call(SYS_execve, path, argv, reinterpret_cast<long>(envp));
  for (int step = 0; rc == -E2BIG && g_fallbacks != nullptr; ++step) {
    ArgvRoom env(g_fallbacks->Room(envp));
    if (env.args() == nullptr || !g_fallbacks->Fill(step, envp, env.args())) break;
    rc = Call(SYS_execve, path, argv, reinterpret_cast<long>(env.args()));
  }
  return rc;
}

// rt_sigprocmask(how, set, old) made by the caller's code, applied to `mask`, the mask its code
// runs with once the handler returns. Returns the system call's result.
long SetCallersMask(int how, const unsigned long* set, unsigned long* old, sigset_t* mask) {
  unsigned long current;
  std::memcpy(&current, mask, sizeof(current));
  if (g_sigsys_blocked) current |= kSigsysBit;
  if (old != nullptr) *old = current;
  if (set == nullptr) return 0;
  const unsigned long unblockable = (1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1));
  switch (how) {
    case SIG_BLOCK:
      current |= *set;
      break;
    case SIG_UNBLOCK:
      current &= ~*set;
      break;
    case SIG_SETMASK:
      current = *set;
      break;
    default:
      return -EINVAL;
  }
  current &= ~unblockable;
  g_sigsys_blocked = (current & kSigsysBit) != 0;
  current &= ~kSigsysBit;
  std::memcpy(mask, &current, sizeof(current));
  return 0;
}

bool CreatesProcess(long nr) {
  return nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork || nr == SYS_vfork;
}

void OnSyscall(int, siginfo_t* info, void* context) {
  g_selector = SYSCALL_DISPATCH_FILTER_ALLOW;  // the probe's own calls
  auto* uc = static_cast<ucontext_t*>(context);
  greg_t* r = uc->uc_mcontext.gregs;
  const long nr = info->si_syscall;
  if (nr == SYS_rt_sigreturn || CreatesProcess(nr)) {
    // The return of a handler of the caller's (a signal in the window), or a process creation
    // (posix_spawn's clone, whose child starts on a stack of its own, or a fork whose child
    // would run the caller's code without the dispatch): neither can be made from here. Stop
    // dispatching and make it run again, for real (the hand-off is off for this child).
    Call(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    CallersFullMask(&uc->uc_sigmask, &uc->uc_sigmask);
    r[REG_RIP] -= 2;  // back onto the 2-byte `syscall`
    r[REG_RAX] = nr;
    return;
  }
  if (nr == SYS_rt_sigprocmask) {
    // The caller's mask is the one the handler's return restores: change that one.
    r[REG_RAX] = SetCallersMask(static_cast<int>(r[REG_RDI]),
                                reinterpret_cast<const unsigned long*>(r[REG_RSI]),
                                reinterpret_cast<unsigned long*>(r[REG_RDX]), &uc->uc_sigmask);
    g_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
    return;
  }
  if (nr == SYS_rt_sigaction && r[REG_RDI] == SIGSYS && r[REG_RSI] != 0) {
    r[REG_RAX] = 0;  // the hand-off keeps SIGSYS until the exec
    g_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
    return;
  }
  sigset_t program_mask;  // the mask the caller's code left: the program starts with it
  CallersFullMask(&uc->uc_sigmask, &program_mask);
  if (nr == SYS_execve && g_helper != nullptr) {
    ExecHelper(reinterpret_cast<const char*>(r[REG_RDI]),
               reinterpret_cast<char* const*>(r[REG_RSI]),
               reinterpret_cast<char* const*>(r[REG_RDX]), &program_mask);
  }
  if (nr == SYS_execve || nr == SYS_execveat) {
    // The program starts with the mask the caller's code left, not the handler's.
    Call(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&program_mask), 0, sizeof(long));
  }
  if (nr == SYS_execve) {
    r[REG_RAX] =
        ExecWithFallbacks(r[REG_RDI], r[REG_RSI], reinterpret_cast<char* const*>(r[REG_RDX]));
  } else {
    r[REG_RAX] = Call(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
  }
  g_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
}

// The kernel's struct sigaction (x86-64), for a restorer of our own: glibc's sigaction
// would put its own, outside the allowed range.
struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

}  // namespace

int ArmExecHandoff(const HandoffOptions& options) {
  g_helper = options.helper;
  g_fallbacks = options.fallbacks;
  KernelSigaction action{};
  action.handler = OnSyscall;
  action.flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */;
  action.restorer = filemon_handoff_restorer;
  action.mask = ~0UL;  // nothing interrupts the handler
  long rc = Call(SYS_rt_sigaction, SIGSYS, reinterpret_cast<long>(&action), 0, sizeof(long));
  if (rc < 0) return static_cast<int>(-rc);
  unsigned long before = 0;
  Call(SYS_rt_sigprocmask, SIG_UNBLOCK, reinterpret_cast<long>(&kSigsysBit),
       reinterpret_cast<long>(&before), sizeof(long));
  g_sigsys_blocked = (before & kSigsysBit) != 0;
  g_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
  rc = Call(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
            reinterpret_cast<long>(filemon_handoff_begin),
            filemon_handoff_end - filemon_handoff_begin, reinterpret_cast<long>(&g_selector));
  if (rc < 0) {
    if (g_sigsys_blocked) {
      Call(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&kSigsysBit), 0, sizeof(long));
    }
    struct KernelSigaction dfl {};
    Call(SYS_rt_sigaction, SIGSYS, reinterpret_cast<long>(&dfl), 0, sizeof(long));
    return static_cast<int>(-rc);
  }
  g_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
  return 0;
}

int ExecHandedOff(const char* path, char* const* argv, char* const* envp,
                  const HandoffOptions& options) {
  g_helper = options.helper;
  g_fallbacks = options.fallbacks;
  g_sigsys_blocked = false;  // the dispatch is not armed: the mask is the caller's as it is
  if (g_helper != nullptr) ExecHelper(path, argv, envp, nullptr);
  const long rc = ExecWithFallbacks(reinterpret_cast<long>(path), reinterpret_cast<long>(argv),
                                    const_cast<char* const*>(envp));
  ArmExecHandoff(options);  // a next exec of the child's is handed off too
  errno = static_cast<int>(-rc);
  return -1;
}

}  // namespace preload_internal
}  // namespace filemon

#else  // no Syscall User Dispatch

namespace filemon {
namespace preload_internal {

int ArmExecHandoff(const HandoffOptions&) { return ENOSYS; }

int ExecHandedOff(const char* path, char* const* argv, char* const* envp, const HandoffOptions&) {
  return static_cast<int>(syscall(SYS_execve, path, argv, envp));
}

}  // namespace preload_internal
}  // namespace filemon

#endif
