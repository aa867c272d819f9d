// File: filemon/backends/preload/untraced.h
//
// Programs that a traced process starts but that run without the interposer, and the log's
// note of each, so that no record is lost silently:
//   - the kernel refuses the exec with E2BIG even without the optional variables
//     (environment.h, EnvLevel): the program's argv and environment leave no room for ours;
//   - the loader of the new program cannot read this library: the process changed its user
//     (setpriv, runuser, a daemon dropping root) to one who cannot reach it, or the library
//     was made unreadable. The loader would print an error and run the program untraced.
// Such a program is started with the environment it would have without filemon
// (EnvLevel::kUntraced: no loader error either), after the note:
//   # preload: pid N (PATH) runs untraced: WHY; neither its operations nor those of the
//   programs it starts are recorded
//   E N PATH
// and N is marked unenterable (its X is held to the end of the run, as for a static program).
// Also here: the notes of a posix_spawn whose child glibc created, failed and reaped unseen
// (`SayFailedSpawnsChildIsMissing`), and of an exec handed over to a nested trace that failed
// (`SayHandedOverExecFailed`).
//
// libc-only, async-signal-safe, vfork-safe; allocates nothing.

#ifndef FILEMON_BACKENDS_PRELOAD_UNTRACED_H_
#define FILEMON_BACKENDS_PRELOAD_UNTRACED_H_

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

enum class UntracedWhy {
  kNoRoom,         // E2BIG with the fewest of our variables
  kLibraryDenied,  // the loader cannot open this library
};

// 0 if the loader of a program this process execs now can open `library`: readable with the
// process's effective user and groups, through every directory of its path. Else the errno
// value (EACCES, ENOENT...). "" is always readable (no library to load).
int LibraryAccessError(const char* library);

// Sends the note for process `pid`, which is about to run `path` (or, for a spawn, runs it)
// untraced: `why`, with the errno value `error` that decided it.
void SayRunsUntraced(int pid, const char* path, UntracedWhy why, int error);

// Sends a comment: process `pid`'s untraced exec of `path`, announced by SayRunsUntraced,
// failed with `error` (the process goes on with its old program).
void SayUntracedExecFailed(int pid, const char* path, int error);

// Sends a comment: process `pid`'s exec of `path` (nullptr: unknown), handed over to a nested
// trace (exec.h, BeginHandOver), failed with `error`: the process goes on with its old program,
// whose records still come to this log, while its X is the nested log's (that session writes
// its root's). Keeps errno.
void SayHandedOverExecFailed(int pid, const char* path, int error);

// Sends a comment: process `pid`'s posix_spawn of `path` (nullptr: unknown), handed over to a
// nested trace (exec.h, BeginHandOver), failed with `error`: the program did not run, and
// whatever child glibc created for it (glibc reaped it, its pid is never known) is in neither
// log. Keeps errno.
void SayHandedOverSpawnFailed(int pid, const char* path, int error);

// Sends a comment: process `pid`'s posix_spawn of `path` (unread if the kernel could not read
// it) failed with `error` in the child glibc created for it, which glibc reaped: that child's
// records (F, its file actions', X) are missing, as its pid is never known.
void SayFailedSpawnsChildIsMissing(int pid, const char* path, int error);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_UNTRACED_H_
