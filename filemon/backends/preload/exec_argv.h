// File: filemon/backends/preload/exec_argv.h
//
// The argument vectors the exec and spawn wrappers, and a session's exec hand-off, build for
// another program than the one the traced program named: auto's ptrace helper
// (helper_main.cc) in place of a program the interposer cannot enter, /bin/sh for a file that
// is no executable format (as glibc's execvp does), and execl's variadic list as an array.
// Each lives in an ArgvRoom: on the stack when short, else in pages of its own, never on the
// heap (a vfork child may build them), and never with a cap of its own on the arguments (the
// kernel's limit on an exec's argv and environment is the only one).
//
// libc-only (mmap through raw_syscall.h), async-signal-safe.
//
// Example:
//   ArgvRoom room(HelperArgvEntries(program_argv));
//   if (room.args() == nullptr) return ENOMEM;
//   BuildHelperArgv(helper, path, program_argv, room.args());
//   real_execve(helper, const_cast<char* const*>(room.args()), envp);

#ifndef FILEMON_BACKENDS_PRELOAD_EXEC_ARGV_H_
#define FILEMON_BACKENDS_PRELOAD_EXEC_ARGV_H_

#include <errno.h>
#include <stdarg.h>

#include <cstddef>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// Room for an argument vector of `entries` pointers (its null included): up to
// kArgvOnStack in the object itself (on the stack), a longer one in pages of its own for the
// object's lifetime. A vfork child that maps such pages and then execs never unmaps them, and
// they are its parent's (the child borrowed its memory): each mapping is therefore noted for
// the thread (the child runs on its parent's thread), and the parent calls
// ReleaseVforkChildRooms() once the child exec'd or exited.
inline constexpr size_t kArgvOnStack = 256;

class ArgvRoom {
 public:
  explicit ArgvRoom(size_t entries);
  // Copying would share (and unmap twice) the mapped pages.
  ArgvRoom(const ArgvRoom&) = delete;
  ArgvRoom& operator=(const ArgvRoom&) = delete;
  ~ArgvRoom();

  // The room for `entries` pointers; nullptr if a long vector could not be mapped (the caller
  // fails with ENOMEM).
  const char** args() const { return args_; }

 private:
  const char* stack_[kArgvOnStack];
  const char** args_ = nullptr;
  size_t size_;
  bool mapped_ = false;
};

// In a vfork parent, once its child exec'd or exited, on the thread that called vfork: unmaps
// the rooms that child mapped and left behind (a child's exec ends its part without running
// any destructor). Cheap when there are none (no system call).
void ReleaseVforkChildRooms();

// The entries (the null included) of the helper's argv for the program argv `argv`.
size_t HelperArgvEntries(char* const argv[]);

// Fills `out` (HelperArgvEntries(argv) entries) with `helper path -- argv...` and a null.
void BuildHelperArgv(const char* helper, const char* path, char* const argv[], const char** out);

// The entries (the null included) of /bin/sh's argv for the program argv `argv`.
size_t ShellArgvEntries(char* const argv[]);

// Fills `out` (ShellArgvEntries(argv) entries) with `/bin/sh path argv[1]...` and a null, the
// argv with which glibc's execvp runs a file that is no executable format.
void BuildShellArgv(const char* path, char* const argv[], const char** out);

// execl's list as an argv in an ArgvRoom, counted as glibc's execl counts it: `first`, then
// each argument of `args` up to and including the first null (a null `first` does not end
// it). `envp_out`, if given, receives the pointer after that null (execle's environment).
// Returns `then(argv)`, or -1 with ENOMEM if a long list could not be mapped.
template <typename Then>
int WithListArgv(const char* first, va_list args, char* const** envp_out, Then then) {
  va_list counting;
  va_copy(counting, args);
  size_t count = 1;
  while (va_arg(counting, const char*) != nullptr) ++count;
  va_end(counting);
  ArgvRoom list(count + 1);
  if (list.args() == nullptr) {
    errno = ENOMEM;
    return -1;
  }
  list.args()[0] = first;
  for (size_t i = 1; i <= count; ++i) list.args()[i] = va_arg(args, const char*);
  if (envp_out != nullptr) *envp_out = va_arg(args, char* const*);
  return then(const_cast<char* const*>(list.args()));
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_EXEC_ARGV_H_
