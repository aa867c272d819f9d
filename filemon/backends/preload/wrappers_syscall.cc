// The raw syscall(2) wrapper: the calls the ptrace backend records, decoded from their numbers
// (syscall_decode.h), made and recorded as their libc wrappers do.

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "filemon/backends/preload/channel.h"
#include "filemon/backends/preload/exec.h"
#include "filemon/backends/preload/interposer_probes.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/process_creation.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/records.h"
#include "filemon/backends/preload/syscall_decode.h"
#include "filemon/backends/preload/user_memory.h"

#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif

namespace filemon {
namespace preload_internal {
namespace {

DECLARE_REAL(syscall, long (*)(long, ...));

long Real(const SyscallCall& c) {
  const long* a = c.args;
  return REAL(syscall)(c.nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

long OpenSyscall(const SyscallCall& c, const DecodedSyscall& d) {
  const long r = Real(c);
  const int error = errno;
  // A failure other than the path lookup's records nothing, and may be the kernel's refusal
  // of openat2's struct open_how (EFAULT), which must then not be read (OpenHowFlags).
  if (r < 0 && error != ENOENT && error != ENOTDIR) return r;
  const int flags = d.open_how != nullptr ? OpenHowFlags(d.open_how) : d.open_flags;
  if (r >= 0) RecordOpen(d.dirfd1, d.path1, flags, d.at);
  if (r < 0) OnFailedOpen(d.dirfd1, d.path1, flags, error);
  return r;
}

// The calls whose records follow a return of 0.
long PathSyscall(const SyscallCall& c, const DecodedSyscall& d) {
  const long r = Real(c);
  if (r != 0) return r;
  switch (d.action) {
    case SyscallAction::kOnePath:
      RecordOne(d.kind, d.dirfd1, d.path1);
      break;
    case SyscallAction::kTwoPaths:
      RecordTwo(d.kind, d.dirfd1, d.path1, d.dirfd2, d.path2);
      break;
    case SyscallAction::kSymlink:
      RecordSymlink(d.path1, d.dirfd2, d.path2);
      break;
    case SyscallAction::kFchdir:
      RecordFchdir(d.dirfd1);
      break;
    default:
      break;
  }
  return r;
}

// clone (flags in args[0]) or clone3 without a function: like fork for a new process with its
// own memory; a CLONE_VM child shares our memory, where no pid can be cached.
long CloneSyscall(const SyscallCall& c, unsigned long flags) {
  if (!(flags & CLONE_VM)) {
    return CreateProcess([&] {
      const long r = Real(c);
      if (r == 0) OnForkChild();
      return r;
    });
  }
  if (!(flags & CLONE_THREAD)) g_pid_shared.store(true, std::memory_order_relaxed);
  return Real(c);
}

// clone3's flags, the first 64 bits of the struct clone_args at args[0] (args[1] bytes), read
// as the kernel reads it (user_memory.h): where the kernel's copy would fail, the call passes
// through and fails with EFAULT, as untraced, instead of crashing.
long Clone3Syscall(const SyscallCall& c) {
  uint64_t flags = 0;
  if (c.args[1] < static_cast<long>(sizeof(flags)) ||
      !CopyReadable(&flags, reinterpret_cast<const void*>(c.args[0]), sizeof(flags))) {
    return Real(c);
  }
  return CloneSyscall(c, static_cast<unsigned long>(flags));
}

// wait4, whose status the kernel stores where the caller asked (a bad pointer fails with EFAULT
// there, as untraced), read back for the reaped child's X.
long Wait4Syscall(const SyscallCall& c) {
  int local = 0;
  int* status = c.args[1] != 0 ? reinterpret_cast<int*>(c.args[1]) : &local;
  const long r =
      REAL(syscall)(c.nr, c.args[0], reinterpret_cast<long>(status), c.args[2], c.args[3], 0, 0);
  if (r > 0) RecordReaped(static_cast<pid_t>(r), *status);
  return r;
}

long ProcessSyscall(const SyscallCall& c, const DecodedSyscall& d) {
  const long* a = c.args;
  switch (d.action) {
    case SyscallAction::kExecve:
      return ExecveImpl(reinterpret_cast<const char*>(a[0]), reinterpret_cast<char* const*>(a[1]),
                        reinterpret_cast<char* const*>(a[2]));
    case SyscallAction::kExecveat:
      return ::execveat(static_cast<int>(a[0]), reinterpret_cast<const char*>(a[1]),
                        reinterpret_cast<char* const*>(a[2]), reinterpret_cast<char* const*>(a[3]),
                        static_cast<int>(a[4]));
    case SyscallAction::kExitGroup:
      RecordExit(static_cast<int>(a[0]));
      return Real(c);
    case SyscallAction::kClose:
      if (IsOurs(static_cast<int>(a[0]))) return 0;
      return Real(c);
    case SyscallAction::kFork:
      return fork();
    case SyscallAction::kClone:
      return CloneSyscall(c, static_cast<unsigned long>(c.args[0]));
    case SyscallAction::kClone3:
      return Clone3Syscall(c);
    case SyscallAction::kWait4:
      return Wait4Syscall(c);
    default:
      return Real(c);
  }
}

long SyscallImpl(const SyscallCall& c) {
  if (!Active()) return Real(c);
  const DecodedSyscall d = DecodeSyscall(c);
  switch (d.action) {
    case SyscallAction::kPassThrough:
      return Real(c);
    case SyscallAction::kOpen:
      return OpenSyscall(c, d);
    case SyscallAction::kOnePath:
    case SyscallAction::kTwoPaths:
    case SyscallAction::kSymlink:
    case SyscallAction::kFchdir:
      return PathSyscall(c, d);
    default:
      return ProcessSyscall(c, d);
  }
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

using namespace filemon::preload_internal;  // NOLINT: the C entry point below

FILEMON_EXPORT long syscall(long nr, ...) noexcept {
  va_list ap;
  va_start(ap, nr);
  SyscallCall call{nr, {}};
  for (long& arg : call.args) arg = va_arg(ap, long);
  va_end(ap);
  return SyscallImpl(call);
}
