// File: filemon/backends/preload/start_environment.h
//
// What a traced process's start (interposer.cc) reads from its environment, in one walk of it
// (getenv would walk it once per name), and who it names as its parent in its own F: a process
// created inside glibc (posix_spawn, system(), popen()) learns its parent and the creation's
// token from the environment its parent passed (launch_protocol.h); one whose environment came
// through a program the interposer could not enter names the kernel's parent.
//
// Pure: libc-only, allocates nothing, makes no system call.

#ifndef FILEMON_BACKENDS_PRELOAD_START_ENVIRONMENT_H_
#define FILEMON_BACKENDS_PRELOAD_START_ENVIRONMENT_H_

#include <cstdint>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// The values of the variables the start reads (launch_protocol.h); nullptr: unset.
struct StartEnvironment {
  const char* fd = nullptr;
  const char* pipe = nullptr;
  const char* pid = nullptr;
  const char* socket = nullptr;
  const char* options = nullptr;
  const char* helper = nullptr;
  const char* exec = nullptr;
  const char* locale = nullptr;
  const char* locale_shm = nullptr;
  const char* library_path = nullptr;  // LD_LIBRARY_PATH
  const char* token = nullptr;
  const char* actions = nullptr;
};

StartEnvironment ReadStartEnvironment(char* const* envp);

// The F a process writes at its start.
struct StartFork {
  enum class Kind {
    kNone,       // the process that exec'd this program is this one: no F here
    kWithToken,  // `F parent self token`, then the spawn's file actions
    kKernels,    // `F ppid self` with the kernel's parent; AlternateParent names `exec_pid`
  } kind = Kind::kNone;
  int parent = 0;      // kWithToken
  uint32_t token = 0;  // kWithToken
  int exec_pid = 0;    // kKernels: the process that passed the environment on (0: unknown)
};

// The F of process `pid` started with `env`.
StartFork StartForkOf(const StartEnvironment& env, int pid);

// kKernels' alternate parent (see message.h, AddForkWithAlternate): the process that passed
// the environment on when it is not the kernel's parent `ppid` (its own fork, or the reaper
// once it exited, is no process of the log); 0 for none.
inline int AlternateParent(int exec_pid, int ppid) {
  return exec_pid > 0 && exec_pid != ppid ? exec_pid : 0;
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_START_ENVIRONMENT_H_
