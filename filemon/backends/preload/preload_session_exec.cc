// The exec functions of a process that links libbmake-filemon.so (bmake), which arm a preload
// or auto session child's exec hand-off right before its exec (preload_session.h,
// `SetHandoffArmedAtExec`): between `PrepareChild` and the exec, bmake's child makes about 20
// system calls (signal dispositions, its descriptors, its process group), each of which would
// otherwise be a SIGSYS of the hand-off's Syscall User Dispatch; now only the exec is.
//
// Each function does what the C library's does (it calls it), after `ArmPendingHandoff()`,
// which does nothing but in a session's prepared child; execve and execv (bmake's job mode),
// which name the program's path, make the hand-off's exec themselves there (`ExecvePending`):
// no signal at all. The caller's code reaches these only
// if the process's lookup finds them first (the library comes before libc, and no LD_PRELOAD
// library of an enclosing trace defines them): checked once at load, and only then does a
// session leave the arming to them. A caller that execs otherwise (a raw system call, or libc's
// own internal calls) keeps the hand-off armed by `PrepareChild`.

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include <cstddef>

#include "filemon/backends/preload/exec_argv.h"
#include "filemon/backends/preload/preload_session.h"

namespace filemon {
namespace preload_internal {
namespace {

using ExecveFn = int (*)(const char*, char* const*, char* const*);
using ExecvFn = int (*)(const char*, char* const*);

// The C library's, found at load (dlsym is not async-signal-safe: never in a child).
struct Real {
  ExecveFn execve = nullptr;
  ExecvFn execvp = nullptr;
  ExecveFn execvpe = nullptr;
  int (*fexecve)(int, char* const*, char* const*) = nullptr;
};
Real g_real;

constexpr const char* kNames[] = {"execve", "execv",  "execvp", "execvpe",
                                  "execl",  "execle", "execlp", "fexecve"};

void Marker() {}

// True if the process's lookup of every exec function finds this library's.
bool FoundFirst() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&Marker), &self) == 0) return false;
  for (const char* name : kNames) {
    void* found = dlsym(RTLD_DEFAULT, name);
    Dl_info where;
    if (found == nullptr || dladdr(found, &where) == 0 || where.dli_fbase != self.dli_fbase) {
      return false;
    }
  }
  return true;
}

__attribute__((constructor)) void FindReal() {
  g_real.execve = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execve"));
  g_real.execvp = reinterpret_cast<ExecvFn>(dlsym(RTLD_NEXT, "execvp"));
  g_real.execvpe = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execvpe"));
  g_real.fexecve =
      reinterpret_cast<int (*)(int, char* const*, char* const*)>(dlsym(RTLD_NEXT, "fexecve"));
  const bool complete = g_real.execve != nullptr && g_real.execvp != nullptr &&
                        g_real.execvpe != nullptr && g_real.fexecve != nullptr;
  SetHandoffArmedAtExec(complete && FoundFirst());
}

int Missing() {
  errno = ENOSYS;
  return -1;
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

using filemon::preload_internal::ArmPendingHandoff;
using filemon::preload_internal::ExecvePending;
using filemon::preload_internal::g_real;
using filemon::preload_internal::Missing;
using filemon::preload_internal::WithListArgv;

extern "C" {

int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return ExecvePending(path, argv, envp, g_real.execve);
}

int execv(const char* path, char* const argv[]) noexcept {
  return ExecvePending(path, argv, environ, g_real.execve);
}

int execvp(const char* file, char* const argv[]) noexcept {
  ArmPendingHandoff();
  return g_real.execvp != nullptr ? g_real.execvp(file, argv) : Missing();
}

int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  ArmPendingHandoff();
  return g_real.execvpe != nullptr ? g_real.execvpe(file, argv, envp) : Missing();
}

int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  ArmPendingHandoff();
  return g_real.fexecve != nullptr ? g_real.fexecve(fd, argv, envp) : Missing();
}

int execl(const char* path, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const int rc =
      WithListArgv(arg, args, nullptr, [path](char* const* argv) { return execv(path, argv); });
  va_end(args);
  return rc;
}

int execlp(const char* file, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const int rc =
      WithListArgv(arg, args, nullptr, [file](char* const* argv) { return execvp(file, argv); });
  va_end(args);
  return rc;
}

int execle(const char* path, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  char* const* envp = nullptr;
  const int rc = WithListArgv(
      arg, args, &envp, [path, &envp](char* const* argv) { return execve(path, argv, envp); });
  va_end(args);
  return rc;
}

}  // extern "C"
