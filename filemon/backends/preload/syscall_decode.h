// File: filemon/backends/preload/syscall_decode.h
//
// What the raw syscall(2) wrapper does with one call, decided from its number and arguments
// alone: the calls the ptrace backend records (opens, the path calls, exec, process creation,
// exit and reaping) and the close that must spare the interposer's descriptors; every other
// number passes through. The wrapper (wrappers_syscall.cc) makes the call and records by the
// answer.
//
// Pure: reads no memory the arguments point to. libc-only, async-signal-safe.
//
// Example:
//   const DecodedSyscall d = DecodeSyscall(SyscallCall{SYS_unlinkat, {dirfd, path, 0}});
//   // d.action == SyscallAction::kOnePath, d.kind == WireKind::kDelete, d.dirfd1 == dirfd

#ifndef FILEMON_BACKENDS_PRELOAD_SYSCALL_DECODE_H_
#define FILEMON_BACKENDS_PRELOAD_SYSCALL_DECODE_H_

#include <fcntl.h>

#include "filemon/backends/preload/wire_format.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// One call of syscall(2): its number and its six arguments as passed.
struct SyscallCall {
  long nr;
  long args[6];
};

enum class SyscallAction {
  kPassThrough,  // nothing to record
  // An open (open, creat, openat, openat2): R/W by the open rule when it returned a descriptor,
  // a probe when it failed. openat2's flags are in its struct open_how (OpenHowFlags).
  kOpen,
  kOnePath,   // record `kind` for path1 (at dirfd1) when the call returned 0
  kTwoPaths,  // record `kind` for path1 and path2 (rename, link) when the call returned 0
  kSymlink,   // L: the target path1 as given, the link path2 at dirfd2, when it returned 0
  kFchdir,    // C: the directory dirfd1 names, when the call returned 0
  kExecve,    // through the exec wrappers (exec.h)
  kExecveat,
  kExitGroup,  // X before the process ends
  kClose,      // our descriptors are not closed
  kFork,       // fork, vfork: through the fork wrapper
  kClone,      // clone: a new process (not a thread) is a creation
  kClone3,     // clone3: the same, by the flags in its struct clone_args (args[0], args[1] bytes)
  kWait4,      // a reaped child's X
};

struct DecodedSyscall {
  SyscallAction action = SyscallAction::kPassThrough;
  WireKind kind = WireKind::kRead;  // kOnePath, kTwoPaths
  int dirfd1 = AT_FDCWD;
  const char* path1 = nullptr;
  int dirfd2 = AT_FDCWD;
  const char* path2 = nullptr;
  int open_flags = 0;              // kOpen (unless open_how)
  bool at = false;                 // kOpen: openat, openat2 (the `A` clue; records.h)
  const void* open_how = nullptr;  // kOpen: openat2's struct open_how, whose flags apply
};

DecodedSyscall DecodeSyscall(const SyscallCall& call);

// The open flags in openat2's struct open_how (its first member, 64 bits).
// REQUIRES: the kernel read the struct: the call succeeded, or failed in its path lookup
// (ENOENT, ENOTDIR), which comes after the copy of the struct. A pointer the kernel refused
// (EFAULT) must not be read here: the program would crash where it gets an error untraced.
int OpenHowFlags(const void* open_how);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_SYSCALL_DECODE_H_
