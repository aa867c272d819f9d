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

#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/safe_string.h"

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

// Inline, as StartForkOf: part of the start's own code (start_text.h), not in a page of their
// own.
StartEnvironment ReadStartEnvironment(char* const* envp);

// The value of the auxiliary vector's entry `type` (AT_PHDR, AT_EXECFN...) as getauxval gives
// it, read from the process's initial stack `stack` (the loader's __libc_stack_end: argc, argv
// and its NULL, the environment and its NULL, then the vector); 0 if there is none. The start
// reads it there, not through getauxval: a page of libc less per process. unsetenv shortens
// the initial environment in place, leaving more NULLs before the vector: they are skipped.
uintptr_t StartAuxValue(const uintptr_t* stack, uintptr_t type);

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

// The names ReadStartEnvironment looks for, in StartEnvironment's order: launch_protocol.h's
// and LD_LIBRARY_PATH, copied into the start's read-only data (start_text.h).
inline constexpr size_t kStartVariableCount = 12;
extern const char* const kStartVariables[kStartVariableCount];

inline StartEnvironment ReadStartEnvironment(char* const* envp) {
  const char* v[kStartVariableCount];
  EnvValues(envp, kStartVariables, kStartVariableCount, v);
  StartEnvironment env;
  env.fd = v[0];
  env.pipe = v[1];
  env.pid = v[2];
  env.socket = v[3];
  env.options = v[4];
  env.helper = v[5];
  env.exec = v[6];
  env.locale = v[7];
  env.locale_shm = v[8];
  env.library_path = v[9];
  env.token = v[10];
  env.actions = v[11];
  return env;
}

inline StartFork StartForkOf(const StartEnvironment& env, int pid) {
  StartFork fork;
  long exec_pid = 0;
  if (ParseInt(env.pid, &exec_pid) && exec_pid == pid) return fork;  // an exec, no creation
  long token = 0;
  if (exec_pid > 0 && ParseInt(env.token, &token)) {
    fork.kind = StartFork::Kind::kWithToken;
    fork.parent = static_cast<int>(exec_pid);
    fork.token = static_cast<uint32_t>(token);
    return fork;
  }
  fork.kind = StartFork::Kind::kKernels;
  fork.exec_pid = exec_pid > 0 ? static_cast<int>(exec_pid) : 0;
  return fork;
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_START_ENVIRONMENT_H_
