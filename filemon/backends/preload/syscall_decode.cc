#include "filemon/backends/preload/syscall_decode.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include <cstdint>

namespace filemon {
namespace preload_internal {
namespace {

const char* Str(long arg) { return reinterpret_cast<const char*>(arg); }
int Fd(long arg) { return static_cast<int>(arg); }

DecodedSyscall Open(int dirfd, long path, int flags, bool at) {
  DecodedSyscall d;
  d.action = SyscallAction::kOpen;
  d.dirfd1 = dirfd;
  d.path1 = Str(path);
  d.open_flags = flags;
  d.at = at;
  return d;
}

DecodedSyscall Paths(SyscallAction action, WireKind kind, int dirfd1, long path1,
                     int dirfd2 = AT_FDCWD, long path2 = 0) {
  DecodedSyscall d;
  d.action = action;
  d.kind = kind;
  d.dirfd1 = dirfd1;
  d.path1 = Str(path1);
  d.dirfd2 = dirfd2;
  d.path2 = Str(path2);
  return d;
}

DecodedSyscall Action(SyscallAction action) {
  DecodedSyscall d;
  d.action = action;
  return d;
}

// open, creat, openat, openat2; kPassThrough for another number.
DecodedSyscall DecodeOpen(const SyscallCall& c) {
  const long* a = c.args;
  switch (c.nr) {
#ifdef SYS_open
    case SYS_open:
      return Open(AT_FDCWD, a[0], static_cast<int>(a[1]), false);
#endif
#ifdef SYS_creat
    case SYS_creat:
      return Open(AT_FDCWD, a[0], O_WRONLY | O_CREAT | O_TRUNC, false);
#endif
    case SYS_openat:
      return Open(Fd(a[0]), a[1], static_cast<int>(a[2]), true);
#ifdef SYS_openat2
    case SYS_openat2: {
      if (a[2] == 0) return DecodedSyscall{};  // no open_how: the kernel refuses it
      DecodedSyscall d = Open(Fd(a[0]), a[1], 0, true);
      d.open_how = reinterpret_cast<const void*>(a[2]);
      return d;
    }
#endif
    default:
      return DecodedSyscall{};
  }
}

// The calls of one or two paths (rename, link, symlink, unlink, rmdir, chdir, fchdir).
DecodedSyscall DecodePaths(const SyscallCall& c) {
  const long* a = c.args;
  switch (c.nr) {
#ifdef SYS_rename
    case SYS_rename:
      return Paths(SyscallAction::kTwoPaths, WireKind::kMove, AT_FDCWD, a[0], AT_FDCWD, a[1]);
#endif
    case SYS_renameat:
#ifdef SYS_renameat2
    case SYS_renameat2:
#endif
      return Paths(SyscallAction::kTwoPaths, WireKind::kMove, Fd(a[0]), a[1], Fd(a[2]), a[3]);
#ifdef SYS_link
    case SYS_link:
      return Paths(SyscallAction::kTwoPaths, WireKind::kLink, AT_FDCWD, a[0], AT_FDCWD, a[1]);
#endif
    case SYS_linkat:
      return Paths(SyscallAction::kTwoPaths, WireKind::kLink, Fd(a[0]), a[1], Fd(a[2]), a[3]);
#ifdef SYS_symlink
    case SYS_symlink:
      return Paths(SyscallAction::kSymlink, WireKind::kLink, AT_FDCWD, a[0], AT_FDCWD, a[1]);
#endif
    case SYS_symlinkat:
      return Paths(SyscallAction::kSymlink, WireKind::kLink, AT_FDCWD, a[0], Fd(a[1]), a[2]);
#ifdef SYS_unlink
    case SYS_unlink:
#endif
#ifdef SYS_rmdir
    case SYS_rmdir:
#endif
      return Paths(SyscallAction::kOnePath, WireKind::kDelete, AT_FDCWD, a[0]);
    case SYS_unlinkat:
      return Paths(SyscallAction::kOnePath, WireKind::kDelete, Fd(a[0]), a[1]);
    case SYS_chdir:
      return Paths(SyscallAction::kOnePath, WireKind::kChdir, AT_FDCWD, a[0]);
    case SYS_fchdir:
      return Paths(SyscallAction::kFchdir, WireKind::kChdir, Fd(a[0]), 0);
    default:
      return DecodedSyscall{};
  }
}

// exec, process creation, exit, reaping and close.
DecodedSyscall DecodeProcess(const SyscallCall& c) {
  switch (c.nr) {
    case SYS_execve:
      return Action(SyscallAction::kExecve);
#ifdef SYS_execveat
    case SYS_execveat:
      return Action(SyscallAction::kExecveat);
#endif
    case SYS_exit_group:
      return Action(SyscallAction::kExitGroup);
    case SYS_close:
      return Action(SyscallAction::kClose);
#ifdef SYS_fork
    case SYS_fork:
#endif
#ifdef SYS_vfork
    case SYS_vfork:
#endif
#if defined(SYS_fork) || defined(SYS_vfork)
      return Action(SyscallAction::kFork);
#endif
    case SYS_clone:
      return Action(SyscallAction::kClone);
#ifdef SYS_clone3
    case SYS_clone3:
      return Action(SyscallAction::kClone3);
#endif
    case SYS_wait4:
      return Action(SyscallAction::kWait4);
    default:
      return DecodedSyscall{};
  }
}

}  // namespace

DecodedSyscall DecodeSyscall(const SyscallCall& call) {
  DecodedSyscall d = DecodeOpen(call);
  if (d.action == SyscallAction::kPassThrough) d = DecodePaths(call);
  if (d.action == SyscallAction::kPassThrough) d = DecodeProcess(call);
  return d;
}

int OpenHowFlags(const void* open_how) {
  uint64_t flags;
  memcpy(&flags, open_how, sizeof(flags));
  return static_cast<int>(flags);
}

}  // namespace preload_internal
}  // namespace filemon
