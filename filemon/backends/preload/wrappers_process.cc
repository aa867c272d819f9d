// The wrappers of the calls that create a process, end one, or reap a child: fork and the
// libc functions that fork inside (daemon, forkpty), vfork, _Fork, clone, _exit and _Exit, and
// the wait family. A creation writes F from both sides (process_creation.h); a reaped child's
// X is written for it when it could not write its own (records.h).

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "filemon/backends/preload/exec_argv.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/process_creation.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/records.h"
#include "filemon/backends/preload/start_text.h"

#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#define FILEMON_STRINGIFY_(x) #x
#define FILEMON_STRINGIFY(x) FILEMON_STRINGIFY_(x)

namespace filemon {
namespace preload_internal {
namespace {

DECLARE_REAL(fork, pid_t (*)());
FILEMON_COLD_BSS DECLARE_REAL(daemon, int (*)(int, int));
FILEMON_COLD_BSS DECLARE_REAL(forkpty,
                              pid_t (*)(int*, char*, const struct termios*, const struct winsize*));
DECLARE_REAL(_Fork, pid_t (*)());
DECLARE_REAL(clone, int (*)(int (*)(void*), void*, int, void*, ...));
DECLARE_REAL(waitpid, pid_t (*)(pid_t, int*, int));
DECLARE_REAL(wait4, pid_t (*)(pid_t, int*, int, struct rusage*));
DECLARE_REAL(waitid, int (*)(idtype_t, id_t, siginfo_t*, int));

// clone(2) with a function: the child of a new process updates the cached pid and writes F.

struct CloneStart {
  int (*fn)(void*);
  void* arg;
  int parent;
  int flags;
  uint32_t token;
  std::atomic<int>* slot_busy = nullptr;  // a CloneSlot's, cleared once the child copied this
};

// A CLONE_VM child without CLONE_VFORK runs beside its parent, which may return (and reuse the
// stack that held its CloneStart) before the child read it: such starts live in these slots
// until the child copied them.
struct CloneSlot {
  std::atomic<int> busy{0};
  CloneStart start;
};
// Rarely used, so kept out of the pages every process touches at its start: `= {}` makes it
// constant-initialized (no startup code writes it), and FILEMON_COLD_BSS puts it after them.
FILEMON_COLD_BSS CloneSlot g_clone_slots[16] = {};

int CloneTrampoline(void* data) {
  CloneStart start = *static_cast<CloneStart*>(data);
  const bool beside_parent = (start.flags & CLONE_VM) && !(start.flags & CLONE_VFORK);
  if (beside_parent) {
    // Copied: the slot is free again. The parent's thread-local slots may be ours too (no
    // CLONE_SETTLS), so nothing is cached: Pid() asks the kernel (g_pid_shared).
    if (start.slot_busy != nullptr) start.slot_busy->store(0, std::memory_order_release);
    SendFork(start.parent, static_cast<int>(RawSyscall0(SYS_getpid)), start.token);
    return start.fn(start.arg);
  }
  int self = static_cast<int>(RawSyscall0(SYS_gettid));  // a new process: tid == pid
  t_pid = self;
  if (!(start.flags & CLONE_VM)) {  // our own copy of memory
    g_pid.store(self, std::memory_order_relaxed);
    ResetCreations();
  }
  SendFork(start.parent, self, start.token);
  return start.fn(start.arg);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

// ---------------------------------------------------------------------------------------------
// The interposed entry points (exported; see interposer.lds).

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

// --- processes ---

// F from both sides: the atfork child handler (see EnsureForkHandlers) and CreateProcess.
FILEMON_EXPORT pid_t fork() noexcept {
  if (!Active()) return REAL(fork)();
  EnsureForkHandlers();
  return CreateProcess([] { return REAL(fork)(); });
}

// daemon(3) as glibc writes it, from the wrapped calls: its parent exits inside it, so its
// fork must be ours (the parent's F before its X), and its chdir and open of /dev/null are
// recorded as ptrace records them.
FILEMON_EXPORT int daemon(int nochdir, int noclose) noexcept {
  if (!Active()) return REAL(daemon)(nochdir, noclose);
  const pid_t child = fork();
  if (child < 0) return -1;
  if (child > 0) _exit(0);
  if (setsid() == -1) return -1;
  if (!nochdir) chdir("/");
  if (!noclose) {
    const int fd = open("/dev/null", O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      if (fd >= 0) close(fd);
      return -1;
    }
    if (!S_ISCHR(st.st_mode)) {
      close(fd);
      errno = ENODEV;
      return -1;
    }
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > 2) close(fd);
  }
  return 0;
}

FILEMON_EXPORT pid_t forkpty(int* amaster, char* name, const struct termios* termp,
                             const struct winsize* winp) noexcept {
  if (!Active()) return REAL(forkpty)(amaster, name, termp, winp);
  EnsureForkHandlers();
  return CreateProcess([&] { return REAL(forkpty)(amaster, name, termp, winp); });
}

// vfork: the child borrows the parent's memory and stack until it execs, so a C wrapper cannot
// return twice. On x86-64 the entry point is written like glibc's: the return address is held
// in a register across the system call, and each side then calls a hook (the child on the
// parent's stack below the caller's frame, as any call the child makes does). The child's hook
// caches the child's pid in the thread's slot (the parent's thread, suspended) and writes F; the
// parent's hook clears the slot again when it resumes. Elsewhere vfork is served by fork.
extern "C" __attribute__((visibility("hidden"))) void filemon_preload_vfork_child() {
  int self = static_cast<int>(RawSyscall0(SYS_getpid));
  t_pid = self;
  if (!Active()) return;
  // The parent stays suspended until this child exec'd or exited: its F alone is in order.
  SendFork(g_pid.load(std::memory_order_relaxed), self, 0);
}

// The parent resumes: its child exec'd or exited, and what the child mapped for a long argv
// and left behind is the parent's (exec_argv.h).
extern "C" __attribute__((visibility("hidden"))) void filemon_preload_vfork_parent() {
  t_pid = 0;
  ReleaseVforkChildRooms();
}

extern "C" __attribute__((visibility("hidden"))) long filemon_preload_vfork_error(long error) {
  errno = static_cast<int>(-error);
  return -1;
}

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl vfork\n"
    ".type vfork,@function\n"
    "vfork:\n"
    "  pop %rdx\n"  // the return address, kept in a register: the child may reuse the stack
    "  mov $" FILEMON_STRINGIFY(SYS_vfork) ", %eax\n"
    "  syscall\n"
    "  push %rdx\n"
    "  test %rax, %rax\n"
    "  jz 1f\n"
    "  cmp $-4095, %rax\n"
    "  jae 2f\n"
    "  push %rax\n"  // the parent: keep the child's pid (and align the stack for the call)
    "  call filemon_preload_vfork_parent\n"
    "  pop %rax\n"
    "  ret\n"
    "1:\n"
    "  sub $8, %rsp\n"
    "  call filemon_preload_vfork_child\n"
    "  add $8, %rsp\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "2:\n"
    "  sub $8, %rsp\n"
    "  mov %rax, %rdi\n"
    "  call filemon_preload_vfork_error\n"
    "  add $8, %rsp\n"
    "  ret\n"
    ".size vfork,.-vfork\n");
#else
FILEMON_EXPORT pid_t vfork() noexcept { return REAL(fork)(); }
#endif

FILEMON_EXPORT pid_t _Fork() noexcept {
  if (!Active()) return REAL(_Fork)();
  return CreateProcess([] {
    pid_t r = REAL(_Fork)();
    if (r == 0) OnForkChild();
    return r;
  });
}

FILEMON_EXPORT int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) noexcept {
  va_list ap;
  va_start(ap, arg);
  pid_t* parent_tid = va_arg(ap, pid_t*);
  void* tls = va_arg(ap, void*);
  pid_t* child_tid = va_arg(ap, pid_t*);
  va_end(ap);
  if (!Active() || (flags & CLONE_THREAD)) {
    return REAL(clone)(fn, stack, flags, arg, parent_tid, tls, child_tid);
  }
  if ((flags & CLONE_VM) && !(flags & CLONE_VFORK)) {
    // Parent and child run at once in one memory: neither may trust a cached pid. Both write
    // F, the child from a slot (CloneSlot); without a free slot, no F.
    g_pid_shared.store(true, std::memory_order_relaxed);
    for (CloneSlot& slot : g_clone_slots) {
      int expected = 0;
      if (!slot.busy.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
      return CreateProcess([&] {
        slot.start = CloneStart{fn, arg, Pid(), flags, t_fork_token, &slot.busy};
        const int rc =
            REAL(clone)(CloneTrampoline, stack, flags, &slot.start, parent_tid, tls, child_tid);
        if (rc < 0) slot.busy.store(0, std::memory_order_release);  // no child to free it
        return rc;
      });
    }
    return REAL(clone)(fn, stack, flags, arg, parent_tid, tls, child_tid);
  }
  int saved = t_pid;
  // A CLONE_VFORK parent stays suspended until the child exec'd or exited: the child's F
  // alone is in order. Otherwise both write it.
  if (flags & CLONE_VFORK) {
    CloneStart start{fn, arg, Pid(), flags, 0};
    int rc = REAL(clone)(CloneTrampoline, stack, flags, &start, parent_tid, tls, child_tid);
    t_pid = saved;  // a CLONE_VM|CLONE_VFORK child wrote our (shared) copy
    return rc;
  }
  return CreateProcess([&] {
    CloneStart start{fn, arg, Pid(), flags, t_fork_token};
    return REAL(clone)(CloneTrampoline, stack, flags, &start, parent_tid, tls, child_tid);
  });
}

// _exit and _Exit end the process as glibc's own do (exit_group, then exit, then nothing
// returns), not through dlsym(RTLD_NEXT): every process that leaves through them (a shell
// does) would pay for the lookup, the loader's lock and their pages in libc at its exit, and
// libc's functions are these same calls. A library preloaded after this one that wraps _exit
// is not reached (its atexit handlers are: exit() runs them before _exit).
namespace {
[[noreturn]] FILEMON_START_TEXT void EndProcess(int status) {
  for (;;) {
    RawSyscall1(SYS_exit_group, status);
    RawSyscall1(SYS_exit, status);
  }
}
}  // namespace

FILEMON_EXPORT FILEMON_START_TEXT void _exit(int status) {
  RecordExit(status);
  EndProcess(status);
}

FILEMON_EXPORT FILEMON_START_TEXT void _Exit(int status) noexcept {
  RecordExit(status);
  EndProcess(status);
}

// --- reaping: X for children that could not write their own ---

// The kernel stores the status where the caller asked (a bad pointer fails with EFAULT there,
// as untraced; nothing is stored when no child was reaped): it is read back from there.
FILEMON_EXPORT pid_t waitpid(pid_t pid, int* status, int options) {
  int local = 0;
  int* where = status != nullptr ? status : &local;
  pid_t r = REAL(waitpid)(pid, where, options);
  if (r > 0) RecordReaped(r, *where);
  return r;
}

FILEMON_EXPORT pid_t wait(int* status) { return waitpid(-1, status, 0); }

FILEMON_EXPORT pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) noexcept {
  int local = 0;
  int* where = status != nullptr ? status : &local;
  pid_t r = REAL(wait4)(pid, where, options, usage);
  if (r > 0) RecordReaped(r, *where);
  return r;
}

FILEMON_EXPORT pid_t wait3(int* status, int options, struct rusage* usage) noexcept {
  return wait4(-1, status, options, usage);
}

// Linux lets `info` be null: the child is still reaped, so its status is read into our own.
FILEMON_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
  siginfo_t local{};
  siginfo_t* where = info != nullptr ? info : &local;
  int rc = REAL(waitid)(idtype, id, where, options);
  if (rc == 0 && where->si_pid > 0 && (options & WEXITED) && !(options & WNOWAIT)) {
    if (where->si_code == CLD_EXITED) {
      RecordReaped(where->si_pid, W_EXITCODE(where->si_status, 0));
    } else if (where->si_code == CLD_KILLED || where->si_code == CLD_DUMPED) {
      RecordReaped(where->si_pid, where->si_status);
    }
  }
  return rc;
}
