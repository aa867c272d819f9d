// The exec wrappers (exec.h): execve and its libc front ends, fexecve and execveat.

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <initializer_list>

#include "filemon/backends/preload/environment.h"
#include "filemon/backends/preload/exec.h"
#include "filemon/backends/preload/exec_argv.h"
#include "filemon/backends/preload/exec_probe.h"
#include "filemon/backends/preload/interposer_probes.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/path_rule.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/untraced.h"
#include "filemon/backends/preload/user_memory.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/path_search.h"

extern "C" char** environ;

namespace filemon {
namespace preload_internal {
namespace {

DECLARE_REAL(execve, int (*)(const char*, char* const[], char* const[]));
FILEMON_COLD_BSS DECLARE_REAL(fexecve, int (*)(int, char* const[], char* const[]));

// What an exec does with its program.
enum class ExecPlan {
  kPreload,  // a program the loader loads this library into (or an exec that will fail)
  kHelper,   // auto's ptrace helper takes over (not for an argv too long for it)
  kWithout,  // the program runs without the interposer: the log says so already
};

// Before exec'ing a program the loader will not load us into: in auto mode hand it to the
// ptrace helper (which traces it in this very process id); otherwise write E now (the
// program cannot) and say why its own operations are missing.
ExecPlan PrepareExec(const char* path, char* const argv[]) {
  ExecProbe probe = ProbeExecutable(path);
  if (!IsUnpreloadable(probe)) return ExecPlan::kPreload;
  if (RawSyscall4(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0) != 0) {
    return ExecPlan::kPreload;  // the exec will fail
  }
  if (HelperTakes(probe)) return ExecPlan::kHelper;
  Message m;
  m.AddComment(path, " is ", ExecKindReason(probe.kind), ": ", ExecKindLoss(probe.kind));
  m.AddExecPath(WireKind::kExec, Pid(), path);
  m.AddUnenterable(Pid());
  m.Send();
  return ExecPlan::kWithout;
}

// Execs `path` untraced (untraced.h), with the note first if the exec can succeed. Returns -1
// with errno as execve does. REQUIRES: `envp` is readable (ExecveImpl checked it).
__attribute__((noinline, cold)) int ExecUntraced(const char* path, char* const argv[],
                                                 char* const envp[], UntracedWhy why, int error) {
  const bool runs =
      RawSyscall4(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0) == 0;
  if (runs) SayRunsUntraced(Pid(), path, why, error);
  EnvRequest request{envp};
  request.level = EnvLevel::kUntraced;
  request.check = EnvCheck::kReadable;
  const int failed = WithExecEnvironment(request, [&](char** env) {
    REAL(execve)(path, argv, env);
    return errno;
  });
  if (runs) SayUntracedExecFailed(Pid(), path, failed);
  if (!runs) OnFailedLookup(AT_FDCWD, path, failed);
  errno = failed;
  return -1;
}

// Execs the ptrace helper in place of `path`; the helper's argv is in a frame of its own, which
// only this rare exec pays for. An argv the kernel cannot read is not read here: the program's
// own exec fails with EFAULT. REQUIRES: `envp` is readable (ExecveImpl checked it).
__attribute__((noinline)) int ExecHelper(const char* path, char* const argv[], char* const envp[]) {
  if (!ReadableArray(argv)) return REAL(execve)(path, argv, envp);
  ArgvRoom helper_argv(HelperArgvEntries(argv));
  if (helper_argv.args() == nullptr) {
    errno = ENOMEM;
    return -1;
  }
  BuildHelperArgv(g_helper, path, argv, helper_argv.args());
  EnvRequest request{envp, /*preload=*/false};
  request.check = EnvCheck::kReadable;
  auto exec = [&](char** env) {
    REAL(execve)(g_helper, const_cast<char* const*>(helper_argv.args()), env);
    return errno;
  };
  int error = WithExecEnvironment(request, exec);
  if (error == E2BIG) error = RetryWithoutCaches(request, exec);
  // Not even the helper's argv fits: the program itself may, untraced.
  if (error == E2BIG) return ExecUntraced(path, argv, envp, UntracedWhy::kNoRoom, E2BIG);
  errno = error;
  return -1;
}

// The untraced end of ExecByDescriptor: the note (when the program's path is known), then
// the exec with the program's own environment.
template <typename Exec>
__attribute__((noinline, cold)) int ExecByDescriptorUntraced(EnvRequest request, Exec exec,
                                                             UntracedWhy why, int error) {
  const char* path = request.exec_path;
  if (path != nullptr) SayRunsUntraced(Pid(), path, why, error);
  request.level = EnvLevel::kUntraced;
  const int failed = WithExecEnvironment(request, exec);
  if (path != nullptr) SayUntracedExecFailed(Pid(), path, failed);
  return failed;
}

// fexecve and execveat: `exec(char** envp)` returns the errno value of its failure. As
// ExecveImpl: with our environment, on E2BIG with fewer variables, then untraced; untraced at
// once if the program could not load this library (untraced.h).
template <typename Exec>
int ExecByDescriptor(const EnvRequest& request, Exec exec) {
  const int denied = LibraryAccessError(g_lib_path);
  if (denied != 0) {
    return ExecByDescriptorUntraced(request, exec, UntracedWhy::kLibraryDenied, denied);
  }
  int error = WithExecEnvironment(request, exec);
  if (error == E2BIG) error = RetryWithoutCaches(request, exec);
  if (error != E2BIG) return error;
  return ExecByDescriptorUntraced(request, exec, UntracedWhy::kNoRoom, E2BIG);
}

// A nested trace's session prepared this process for this exec (launch_protocol.h, "Nested
// traces"): the program runs with that session's environment as it is, and without this
// trace's channel, whose descriptors close at the exec (kept if it fails). This log gets a
// comment and no X for the process: its exec, records and exit belong to the inner log. If the
// exec fails, a second comment says so (the process goes on here). `exec()` returns the errno
// value of its failure.
template <typename Exec>
__attribute__((noinline, cold)) int ExecHandedOver(const char* path, Exec exec) {
  BeginHandOver(HandOverBy::kExec, path);
  const int error = exec();
  EndHandOver();
  SayHandedOverExecFailed(static_cast<int>(RawSyscall0(SYS_getpid)), path, error);
  return error;
}

// The end of an exec of `path` that failed with `error`: with probes, the lookup of an absent
// program (OnFailedLookup reads no path the kernel could not: it needs ENOENT or ENOTDIR).
// Returns -1 with `error` in errno.
int ExecFailed(const char* path, int error) {
  OnFailedLookup(AT_FDCWD, path, error);
  errno = error;
  return -1;
}

// Runs `path`, which is no executable format, with /bin/sh, as glibc's execvp does (ENOEXEC
// unless the exec succeeds); the shell's argv is in a frame of its own.
__attribute__((noinline)) void ExecWithShell(const char* path, char* const argv[],
                                             const ExecEnv& env) {
  ArgvRoom sh_argv(ShellArgvEntries(argv));
  if (sh_argv.args() == nullptr) return;  // ENOEXEC, as glibc's execvp when out of memory
  BuildShellArgv(path, argv, sh_argv.args());
  ExecveWith("/bin/sh", const_cast<char* const*>(sh_argv.args()), env);
  errno = ENOEXEC;
}

// Whether execvp's search goes on to the next PATH entry after an exec failed with `error`
// (glibc's list).
bool SearchGoesOn(int error) {
  switch (error) {
    case EACCES:
    case ENOENT:
    case ESTALE:
    case ENOTDIR:
    case ENODEV:
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

// execvp's search of PATH for `file` (no '/'): `run(path)` for each candidate until one fails
// otherwise than as glibc's search goes on. EACCES from any entry is what a search that found
// nothing leaves in errno.
template <typename Run>
void SearchPathForExec(const char* file, Run run) {
  bool saw_eacces = false;
  char candidate[PATH_MAX];
  const bool searched_all = ForEachSearchCandidate(getenv("PATH"), file, candidate,
                                                   sizeof(candidate), [&](const char* path) {
                                                     run(path);
                                                     saw_eacces |= errno == EACCES;
                                                     return SearchGoesOn(errno);
                                                   });
  if (searched_all && saw_eacces) errno = EACCES;
}

// Sets the descriptor flags (FD_CLOEXEC or 0) of this trace's channels: a hand-over lets them
// close at the exec (the nested trace's are the program's).
void SetChannelsCloseOnExec(int flags) {
  for (int fd : {g_fd.load(std::memory_order_relaxed), g_pipe.load(std::memory_order_relaxed)}) {
    if (fd >= 0) RawSyscall3(SYS_fcntl, fd, F_SETFD, flags);
  }
}

}  // namespace

bool HandsOver(char* const envp[]) {
  // The pid is asked for only when a session is named (a system call the usual exec skips).
  return __builtin_expect(EnvValue(envp, kEnvSession) != nullptr, 0) &&
         PreparedForSession(envp, RawSyscall0(SYS_getpid), g_fd.load(std::memory_order_relaxed),
                            g_pipe.load(std::memory_order_relaxed));
}

void BeginHandOver(HandOverBy by, const char* path) {
  const int saved_errno = errno;
  const int self = static_cast<int>(RawSyscall0(SYS_getpid));
  char number[24];
  number[FormatUnsigned(static_cast<unsigned long>(self), number)] = '\0';
  Message m;
  const bool exec = by == HandOverBy::kExec;
  m.AddComment("pid ", number, exec ? " execs " : " spawns ", path != nullptr ? path : "a program",
               exec ? " under a nested filemon, whose log has its records from now on"
                    : " under a nested filemon, whose log has that program's records");
  m.AddHandedOver(self);
  m.Send();
  SetChannelsCloseOnExec(FD_CLOEXEC);
  errno = saved_errno;
}

void EndHandOver() { SetChannelsCloseOnExec(0); }

bool HelperTakes(const ExecProbe& probe) {
  return g_auto && g_helper[0] != '\0' && probe.kind != ExecKind::kSecure;
}

// An exec that the kernel refuses with our variables (E2BIG) is tried with fewer, then
// untraced (environment.h, EnvLevel); one whose program could not load this library runs
// untraced at once: the log says so in both cases (untraced.h).
int ExecveImpl(const char* path, char* const argv[], char* const envp[]) {
  return ExecveWith(path, argv, LookAtEnv(envp));
}

ExecEnv LookAtEnv(char* const envp[]) {
  ExecEnv env;
  env.envp = envp;
  env.active = Active();
  if (!env.active) return env;
  env.readable = ReadableStrings(envp);
  env.hands_over = env.readable && HandsOver(envp);
  return env;
}

int ExecveWith(const char* path, char* const argv[], const ExecEnv& env) {
  char* const* envp = env.envp;
  if (!env.active) return REAL(execve)(path, argv, envp);
  // An environment the kernel cannot read is passed on unread: the exec fails (EFAULT).
  if (__builtin_expect(!env.readable, 0)) {
    REAL(execve)(path, argv, envp);
    return ExecFailed(path, errno);
  }
  if (env.handed_over) return REAL(execve)(path, argv, envp);
  if (env.hands_over) {
    // A path the kernel cannot read is not named: the exec fails (EFAULT), nothing handed over.
    if (!ReadableString(path)) return REAL(execve)(path, argv, envp);
    errno = ExecHandedOver(path, [&] {
      REAL(execve)(path, argv, envp);
      return errno;
    });
    return -1;
  }
  const ExecPlan plan = PrepareExec(path, argv);
  if (plan == ExecPlan::kHelper) return ExecHelper(path, argv, envp);
  if (plan == ExecPlan::kPreload) {
    const int denied = LibraryAccessError(g_lib_path);
    if (denied != 0) return ExecUntraced(path, argv, envp, UntracedWhy::kLibraryDenied, denied);
  }
  auto exec = [&](char** env) {
    REAL(execve)(path, argv, env);
    return errno;
  };
  EnvRequest request{envp};
  request.check = EnvCheck::kReadable;
  int error = WithExecEnvironment(request, exec);
  if (error == E2BIG) error = RetryWithoutCaches(request, exec);
  if (error == E2BIG) return ExecUntraced(path, argv, envp, UntracedWhy::kNoRoom, E2BIG);
  return ExecFailed(path, error);
}

// `file` with a '/' is used as is; otherwise each PATH entry in turn. EACCES from any entry is
// what a search that found nothing returns; a name longer than NAME_MAX is searched for
// nowhere (ENAMETOOLONG), as glibc does. A process a nested trace's session prepared is
// handed over once for the whole exec: every candidate of the search, and /bin/sh for a
// program that failed with ENOEXEC.
int ExecvpeImpl(const char* file, char* const argv[], char* const envp[]) {
  if (file == nullptr || file[0] == '\0') {
    errno = ENOENT;
    return -1;
  }
  const bool path_name = IsPathName(file);
  if (!path_name && Length(file) > NAME_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  ExecEnv env = LookAtEnv(envp);  // once for every candidate
  auto run = [&](const char* path) {
    ExecveWith(path, argv, env);
    if (errno == ENOEXEC) ExecWithShell(path, argv, env);
  };
  auto exec = [&] {
    if (path_name) {
      run(file);
    } else {
      SearchPathForExec(file, run);
    }
  };
  if (!env.hands_over) {
    exec();
    return -1;
  }
  // One hand-over, named by `file` (EndHandOver keeps errno).
  BeginHandOver(HandOverBy::kExec, file);
  env.handed_over = true;
  exec();
  EndHandOver();
  SayHandedOverExecFailed(static_cast<int>(RawSyscall0(SYS_getpid)), file, errno);
  return -1;
}

}  // namespace preload_internal
}  // namespace filemon

// ---------------------------------------------------------------------------------------------
// The interposed entry points (exported; see interposer.lds).

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

FILEMON_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return ExecveImpl(path, argv, envp);
}

FILEMON_EXPORT int execv(const char* path, char* const argv[]) noexcept {
  return ExecveImpl(path, argv, environ);
}

FILEMON_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  return ExecvpeImpl(file, argv, envp);
}

FILEMON_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
  return ExecvpeImpl(file, argv, environ);
}

FILEMON_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const int rc = WithListArgv(
      arg, args, nullptr, [path](char* const* argv) { return ExecveImpl(path, argv, environ); });
  va_end(args);
  return rc;
}

FILEMON_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const int rc = WithListArgv(
      arg, args, nullptr, [file](char* const* argv) { return ExecvpeImpl(file, argv, environ); });
  va_end(args);
  return rc;
}

FILEMON_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  char* const* envp = nullptr;
  const int rc = WithListArgv(
      arg, args, &envp, [path, &envp](char* const* argv) { return ExecveImpl(path, argv, envp); });
  va_end(args);
  return rc;
}

FILEMON_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  if (!Active()) return REAL(fexecve)(fd, argv, envp);
  // glibc's own checks, made before ours give the exec an environment it did not have.
  if (fd < 0 || argv == nullptr || envp == nullptr) {
    errno = EINVAL;
    return -1;
  }
  // An environment the kernel cannot read is passed on unread: the exec fails (EFAULT).
  if (!ReadableStrings(envp)) return REAL(fexecve)(fd, argv, envp);
  char exec_path[4096];
  bool known = ExecPathAt(fd, "", exec_path, sizeof(exec_path));
  if (HandsOver(envp)) {
    errno = ExecHandedOver(known ? exec_path : nullptr, [&] {
      REAL(fexecve)(fd, argv, envp);
      return errno;
    });
    return -1;
  }
  EnvRequest request{envp, true, known ? exec_path : nullptr};
  request.check = EnvCheck::kReadable;
  errno = ExecByDescriptor(request, [&](char** env) {
    REAL(fexecve)(fd, argv, env);
    return errno;
  });
  return -1;
}

FILEMON_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                            int flags) noexcept {
  // A path or environment the kernel cannot read is not read here: the call fails with EFAULT,
  // untouched.
  if (!Active() || !ReadableString(path) || !ReadableStrings(envp)) {
    long rc = RawSyscall6(SYS_execveat, dirfd, reinterpret_cast<long>(path),
                          reinterpret_cast<long>(argv), reinterpret_cast<long>(envp), flags, 0);
    errno = static_cast<int>(-rc);
    return -1;
  }
  char exec_path[4096];
  bool known = ExecPathAt(dirfd, (flags & AT_EMPTY_PATH) && path[0] == '\0' ? "" : path, exec_path,
                          sizeof(exec_path));
  auto exec = [&](char* const* env) {
    return static_cast<int>(-RawSyscall6(SYS_execveat, dirfd, reinterpret_cast<long>(path),
                                         reinterpret_cast<long>(argv), reinterpret_cast<long>(env),
                                         flags, 0));
  };
  if (HandsOver(envp)) {
    errno = ExecHandedOver(known ? exec_path : nullptr, [&] { return exec(envp); });
    return -1;
  }
  EnvRequest request{envp, true, known ? exec_path : nullptr};
  request.check = EnvCheck::kReadable;
  errno = ExecByDescriptor(request, exec);
  OnFailedLookup(dirfd, path, errno);
  return -1;
}
