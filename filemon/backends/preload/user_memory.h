// File: filemon/backends/preload/user_memory.h
//
// Reading what a traced program passed to a call as the kernel reads it: a pointer the kernel
// would refuse (EFAULT) must not crash the program in the interposer instead. A wrapper that
// looks at a call's memory before the call (an exec's environment, argv or path; clone3's
// arguments) asks here first; where the answer is no, it passes the call through untouched and
// the kernel fails it as it would untraced.
//
// The test is the kernel's own: process_vm_readv(2) of this very process, which copies from a
// page only where the kernel's copy from the caller would succeed. Where process_vm_readv
// itself is unavailable (a seccomp filter refusing it, ENOSYS), memory counts as readable: the
// wrappers then read it as they did before this test existed, which traces the program rather
// than passing its exec through untraced.
//
// libc-only, async-signal-safe and vfork-safe: allocates nothing, writes only its arguments.
//
// Example:
//   if (!ReadableStrings(envp)) return real_execve(path, argv, envp);  // fails: EFAULT

#ifndef FILEMON_BACKENDS_PRELOAD_USER_MEMORY_H_
#define FILEMON_BACKENDS_PRELOAD_USER_MEMORY_H_

#include <cstddef>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// Copies `size` bytes at `from` to `out`; false if the kernel could not read all of them.
bool CopyReadable(void* out, const void* from, size_t size);

// Whether the NUL-terminated string `s` can be read to its NUL (false for nullptr).
bool ReadableString(const char* s);

// Whether the null-terminated array `v` (an argv or envp) can be read to its null, and each of
// its strings too (`nullptr` is an empty array, as for the kernel's execve).
bool ReadableStrings(char* const* v);

// Whether the array `v` can be read to its null, its strings not looked at (the kernel reads
// them itself: the helper's argv only points at them).
bool ReadableArray(char* const* v);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_USER_MEMORY_H_
