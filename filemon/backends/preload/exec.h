// File: filemon/backends/preload/exec.h
//
// The exec wrappers' work, shared with the raw syscall(2) wrapper and posix_spawn: every exec
// keeps our environment (environment.h), and a program the loader will not load this library
// into is handed to auto's ptrace helper, or gets its E written now and the log says what is
// lost (exec_probe.h).
//
// libc-only; vfork-safe (a vfork child execs through here).

#ifndef FILEMON_BACKENDS_PRELOAD_EXEC_H_
#define FILEMON_BACKENDS_PRELOAD_EXEC_H_

#include <spawn.h>
#include <sys/types.h>

#include "filemon/backends/preload/exec_probe.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// Whether the loader will not load this library into the program `probe` describes.
inline bool IsUnpreloadable(const ExecProbe& probe) {
  return probe.kind != ExecKind::kPreloadable && probe.kind != ExecKind::kUnknown;
}

// Whether auto's ptrace helper runs the unpreloadable program `probe` describes in its place
// (not a set-ID program, which would lose its privilege under ptrace).
bool HelperTakes(const ExecProbe& probe);

// execve(2) with our environment; an unpreloadable program as above. Returns as execve does.
int ExecveImpl(const char* path, char* const argv[], char* const envp[]);

// What an exec learns of its environment before it runs, the same for every candidate of an
// execvp's search and its shell fallback: asked once (LookAtEnv), used by each (ExecveWith).
struct ExecEnv {
  char* const* envp = nullptr;
  bool active = false;      // this process is traced (Active())
  bool readable = false;    // the kernel can read `envp` (user_memory.h); if active
  bool hands_over = false;  // a nested trace's session prepared this process (HandsOver)
  // The caller began the hand-over (BeginHandOver) for a whole execvp (its search, its shell): the
  // exec is made with `envp` as it is, and nothing more is said.
  bool handed_over = false;
};
ExecEnv LookAtEnv(char* const envp[]);

// ExecveImpl with `env` already looked at.
int ExecveWith(const char* path, char* const argv[], const ExecEnv& env);

// execvpe(3): glibc's search of PATH for `file`, each candidate through ExecveWith, and a file
// that is no executable format run by /bin/sh. Returns -1 with errno as execvpe does.
int ExecvpeImpl(const char* file, char* const argv[], char* const envp[]);

// posix_spawn of `/bin/sh -c command`, the shell of system(3) and popen(3), through the
// posix_spawn wrapper's work (F, file actions, auto's helper, the retries without room) with
// `envp` passed as it is: no global of the process changes. Returns as posix_spawn does.
int SpawnShell(pid_t* pid, const char* command, const posix_spawn_file_actions_t* actions,
               const posix_spawnattr_t* attr, char* const envp[]);

// Nested traces (launch_protocol.h): whether an exec or spawn with `envp` (readable) hands this
// process over to the session of a nested trace, which prepared `envp` for this very process.
bool HandsOver(char* const envp[]);

// How a process is handed over to a nested trace: its exec (the process and its program are
// the inner log's), or a spawn (the spawned program is the inner log's, and so is the
// spawning process's X, as after FreeBSD's FILEMON_SET_PID on itself).
enum class HandOverBy : unsigned char { kExec, kSpawn };

// Around the exec or spawn of `path` (or nullptr: unknown) that hands this process over:
// BeginHandOver writes this log's comment and marker (the process's X is the inner log's from
// now on) and lets this trace's channel close at an exec; EndHandOver keeps the channel open
// again (the exec failed, or the spawn is done). The program gets the environment the nested
// session prepared, as it is. Both keep errno.
void BeginHandOver(HandOverBy by, const char* path);
void EndHandOver();

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_EXEC_H_
