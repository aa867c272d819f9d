// File: filemon/backends/preload/records.h
//
// The records of one interposed call, sent as one message (message.h) when the call
// succeeded, by the ptrace backend's rules: the open rule (filemon/core/open_rule.h) and the
// path rules (path_rule.h). Every function does nothing while the interposer is inactive.
//
// libc-only, async-signal-safe.

#ifndef FILEMON_BACKENDS_PRELOAD_RECORDS_H_
#define FILEMON_BACKENDS_PRELOAD_RECORDS_H_

#include <sys/types.h>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/wire_format.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// open/openat/creat/fopen: R and W by FreeBSD's rule. `at`: openat/openat2, which also write
// the `A` clue for a relative path with a real dirfd (not with --absolute, as ptrace: every
// path is then resolved, and the clue would be the one relative path of the log). `trapped`:
// called by the libc window's trap handler; inside a window the handler records the open
// system call itself, so the wrappers do not.
// The check is inline (the wrappers' path), the rest out of line.
void RecordActiveOpen(int dirfd, const char* path, int flags, bool at, bool trapped);
inline void RecordOpen(int dirfd, const char* path, int flags, bool at, bool trapped = false) {
  if (Active() && path != nullptr) RecordActiveOpen(dirfd, path, flags, at, trapped);
}

// The open flags of an fopen `mode`: "r" read; "w"/"a" write; "+" both.
int FopenFlags(const char* mode);

// A record of one path, or of two (rename, link), as passed.
void RecordOne(WireKind kind, int dirfd, const char* path);
void RecordTwo(WireKind kind, int dirfd1, const char* path1, int dirfd2, const char* path2);

// symlink: L with the link's contents as given, never prefixed.
void RecordSymlink(const char* target, int dirfd, const char* linkpath);

// fchdir: C with the directory the descriptor names.
void RecordFchdir(int fd);

// X for this process's exit with `code` (once per pid), after its creations' F.
void RecordExit(int code);

// A parent reaped `pid`: the supervisor writes X for it unless the child wrote its own (a
// child killed by a signal, or one the interposer could not see).
void RecordReaped(pid_t pid, int wait_status);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_RECORDS_H_
