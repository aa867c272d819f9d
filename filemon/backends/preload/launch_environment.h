// File: filemon/backends/preload/launch_environment.h
//
// What the supervisor gives the traced command (launch_protocol.h): its environment with the
// preload variables, and argv/envp arrays that the reaper's child can exec without
// allocating.
//
// `BuildLaunchEnvironment` is pure: the caller's environment without any FILEMON_PRELOAD_*
// entry, `LD_PRELOAD` naming the interposer first (the user's own preloads after it), then
// the variables of `LaunchSettings`, and FILEMON_PRELOAD_PID last as a placeholder that
// `ExecArrays::SetPid` fills in after fork.
//
// Example:
//   ExecArrays exec(command.argv, BuildLaunchEnvironment(env, settings));
//   if (fork() == 0) { exec.SetPid(getpid()); execve(program, exec.argv(), exec.envp()); }

#ifndef FILEMON_BACKENDS_PRELOAD_LAUNCH_ENVIRONMENT_H_
#define FILEMON_BACKENDS_PRELOAD_LAUNCH_ENVIRONMENT_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "filemon/core/owned_fd.h"

namespace filemon {
namespace preload_internal {

struct LaunchSettings {
  std::string library;          // the interposer (libfilemon_preload.so)
  int socket_fd = -1;           // FILEMON_PRELOAD_FD
  int pipe_fd = -1;             // FILEMON_PRELOAD_PIPE; -1: no pipe
  std::string socket_name;      // FILEMON_PRELOAD_SOCKET; empty: no listener
  std::string locale_shm_path;  // FILEMON_PRELOAD_LOCALE_SHM; empty: none
  unsigned options = 0;         // FILEMON_PRELOAD_OPTIONS (LaunchOption bits); 0: unset
  std::string helper;           // FILEMON_PRELOAD_HELPER; empty: none
};

// `env` (KEY=VALUE entries, in order) made into the traced command's environment.
std::vector<std::string> BuildLaunchEnvironment(std::vector<std::string> env,
                                                const LaunchSettings& settings);

// The tree-wide setlocale cache (launch_protocol.h): a zero-filled memfd of kLocaleShmBytes;
// `*path` is set to the name traced processes open it by (/proc/SELF/fd/N). Invalid (and
// `*path` empty) when the kernel refuses: the processes then cache per process.
OwnedFd CreateLocaleShm(std::string* path);

// NUL-terminated argv and envp arrays over owned strings. `envp`'s last entry must be the
// FILEMON_PRELOAD_PID placeholder (BuildLaunchEnvironment's).
class ExecArrays {
 public:
  ExecArrays(std::vector<std::string> argv, std::vector<std::string> env);
  ExecArrays(const ExecArrays&) = delete;  // the arrays point into the strings
  ExecArrays& operator=(const ExecArrays&) = delete;

  char* const* argv() { return argv_.data(); }
  char** envp() { return envp_.data(); }
  // Writes `pid` into the placeholder. Async-signal-safe (for the child after fork).
  void SetPid(pid_t pid);

 private:
  std::vector<std::string> argv_storage_, env_storage_;
  std::vector<char*> argv_, envp_;
  char* pid_digits_ = nullptr;  // the placeholder's ten digits
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_LAUNCH_ENVIRONMENT_H_
