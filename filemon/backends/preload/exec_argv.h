// File: filemon/backends/preload/exec_argv.h
//
// The argument vectors the exec and spawn wrappers build for another program than the one the
// traced program named: auto's ptrace helper (helper_main.cc) in place of a program the
// interposer cannot enter, /bin/sh for a file that is no executable format (as glibc's execvp
// does), and execl's variadic list as an array. Each lives in fixed room, never in memory
// sized by the program's arguments on the heap: a vfork child may build them.
//
// libc-only (mmap through raw_syscall.h), async-signal-safe.
//
// Example:
//   const char* argv[kMaxArgs];
//   if (BuildHelperArgv(helper, path, program_argv, argv)) real_execve(helper, argv, envp);

#ifndef FILEMON_BACKENDS_PRELOAD_EXEC_ARGV_H_
#define FILEMON_BACKENDS_PRELOAD_EXEC_ARGV_H_

#include <cstddef>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// The entries (the null included) of a helper's or /bin/sh's argv: its room on the stack.
inline constexpr size_t kMaxArgs = 1024;

// Whether the helper's argv for `argv` fits in kMaxArgs entries.
bool HelperArgvFits(char* const argv[]);

// Fills `out` (kMaxArgs entries) with `helper path -- argv...` and a null; false (and `out`
// untouched) if it does not fit.
bool BuildHelperArgv(const char* helper, const char* path, char* const argv[], const char** out);

// Fills `out` (kMaxArgs entries) with `/bin/sh path argv[1]...` and a null, the argv with which
// glibc's execvp runs a file that is no executable format; false if it does not fit.
bool BuildShellArgv(const char* path, char* const argv[], const char** out);

// execl, execlp, execle's argument list as an array of `count` + 1 entries: up to
// kListArgsOnStack in the object itself (on the stack), a longer list in pages of its own for
// the object's lifetime (never the heap: a vfork child may call these).
inline constexpr size_t kListArgsOnStack = 256;

class ListArgs {
 public:
  // `count`: the arguments, the first included, without the terminating null.
  explicit ListArgs(size_t count);
  // Copying would share (and unmap twice) the mapped pages.
  ListArgs(const ListArgs&) = delete;
  ListArgs& operator=(const ListArgs&) = delete;
  ~ListArgs();

  // The room for count + 1 entries; nullptr if a long list could not be mapped (the caller
  // fails with ENOMEM).
  const char** args() const { return args_; }

 private:
  const char* stack_[kListArgsOnStack];
  const char** args_ = nullptr;
  size_t size_;
  bool mapped_ = false;
};

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_EXEC_ARGV_H_
