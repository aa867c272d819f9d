// File: filemon/backends/preload/launch_protocol.h
//
// The environment through which the supervisor (launch_environment.h), the interposer
// (interposer.cc) and auto's ptrace helper (helper_main.cc) reach each other. Every variable
// starts with kEnvPrefix; the interposer strips them all and sets its own on every exec and
// spawn:
//
//   FILEMON_PRELOAD_FD=N          the SOCK_SEQPACKET socket to the supervisor (wire_format.h)
//   FILEMON_PRELOAD_PIPE=N        the pipe to the supervisor (absent: the socket only)
//   FILEMON_PRELOAD_SOCKET=NAME   the supervisor's abstract socket, for reconnecting
//   FILEMON_PRELOAD_OPTIONS=N     LaunchOption bits, in decimal
//   FILEMON_PRELOAD_HELPER=PATH   auto's ptrace helper
//   FILEMON_PRELOAD_EXEC=PATH     execveat/fexecve: the program's path
//   FILEMON_PRELOAD_LOCALE=...    the setlocale cache (locale_cache.h)
//   FILEMON_PRELOAD_LOCALE_SHM=/proc/PID/fd/N  the tree-wide setlocale cache, kLocaleShmBytes
//
// What a process created inside glibc (posix_spawn, posix_spawnp, system, popen: glibc clones
// internally, where no wrapper runs) learns from its parent through the environment, so that
// its start can write, in the kernel's order, what happened to it before its program ran:
//
//   FILEMON_PRELOAD_PID=P       the parent (the process that built the environment)
//   FILEMON_PRELOAD_TOKEN=N     the creation's token: P's counter of creations (see
//                               wire_format.h, "F from both sides"); 0: P writes no F of its own
//   FILEMON_PRELOAD_ACTIONS=... posix_spawn's file actions (open, chdir, fchdir), which glibc
//                               performs in the child before the exec
//
// The new image's start (the interposer's, or the ptrace helper's in auto mode) writes
// `F P self N`, then the actions' records under its own pid, then its E. A process whose
// FILEMON_PRELOAD_PID is its own pid was exec'd by a traced process and writes no F.
//
// A session (the fork-it-yourself protocol of bmake's filemon API, session_environment.h)
// prepares its child between fork and exec with the full set of variables above, its own, and
//
//   FILEMON_PRELOAD_SESSION=C   the child C, which the session traces from its exec on
//
// Nested traces follow FreeBSD's filemon rule: a process has one filemon; a child inherits its
// parent's, and a process that sets a filemon on itself leaves the one it inherited, for itself
// and for everything it starts from then on. The enclosing log keeps the F that created the
// child and nothing after it (its exec, its records, its X are the inner log's). So when a
// traced process (a nested bmake, traced by an enclosing bmake's session) execs with an
// environment that names it in FILEMON_PRELOAD_SESSION, the interposer loaded in it hands it
// over: the exec gets that environment as it is, and this trace's channel descriptors close at
// the exec (they stay if the exec fails). So do fexecve and execveat; a posix_spawn(p) of
// such a process spawns its program with that environment as it is (into the inner log,
// without this trace's channel; its file actions are recorded by neither log), and the
// spawning process's X is the inner log's too. Any other exec strips FILEMON_PRELOAD_SESSION
// with the rest.
//
// Actions are encoded as a sequence of KIND LENGTH ':' BYTES (LENGTH in decimal): KIND 'R' or
// 'W' (an open, path as passed), 'C' (a chdir, path as passed), 'c' (an fchdir: the
// directory's absolute path, resolved by the parent, where the descriptor was valid) or 'N'
// (with probes: a PATH entry where posix_spawnp's search, made by glibc in the child, will
// not find the program; after the file actions, as the child makes them).
//
// Header-only, libc-only and async-signal-safe (the interposer includes it).

#ifndef FILEMON_BACKENDS_PRELOAD_LAUNCH_PROTOCOL_H_
#define FILEMON_BACKENDS_PRELOAD_LAUNCH_PROTOCOL_H_

#include <cstddef>

#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {

inline constexpr char kEnvPrefix[] = "FILEMON_PRELOAD_";
inline constexpr char kEnvFd[] = "FILEMON_PRELOAD_FD";
inline constexpr char kEnvPipe[] = "FILEMON_PRELOAD_PIPE";
inline constexpr char kEnvPid[] = "FILEMON_PRELOAD_PID";
inline constexpr char kEnvSocket[] = "FILEMON_PRELOAD_SOCKET";
inline constexpr char kEnvOptions[] = "FILEMON_PRELOAD_OPTIONS";
inline constexpr char kEnvHelper[] = "FILEMON_PRELOAD_HELPER";
inline constexpr char kEnvExec[] = "FILEMON_PRELOAD_EXEC";
inline constexpr char kEnvLocale[] = "FILEMON_PRELOAD_LOCALE";
inline constexpr char kEnvLocaleShm[] = "FILEMON_PRELOAD_LOCALE_SHM";
inline constexpr char kEnvToken[] = "FILEMON_PRELOAD_TOKEN";
inline constexpr char kEnvActions[] = "FILEMON_PRELOAD_ACTIONS";
inline constexpr char kEnvSession[] = "FILEMON_PRELOAD_SESSION";

// The size of the tree-wide setlocale cache's shared memory.
inline constexpr size_t kLocaleShmBytes = 64 * 1024;

// FILEMON_PRELOAD_OPTIONS: the OR of these, in decimal.
enum LaunchOption : unsigned {
  kOptionAbsolutePaths = 1,  // TraceOptions::absolute_paths
  kOptionAuto = 2,           // the auto backend: hand unpreloadable programs to the helper
  kOptionProbes = 4,         // TraceOptions::probes: failed lookups become N
};

// The options in `text` (FILEMON_PRELOAD_OPTIONS' value; nullptr or malformed: none).
inline unsigned ParseLaunchOptions(const char* text) {
  unsigned value = 0;
  for (const char* p = text; p != nullptr && *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return 0;
    value = value * 10 + static_cast<unsigned>(*p - '0');
  }
  return value;
}

// Appends one encoded action; `out` remembers an overflow.
inline void AppendSpawnAction(ByteAppender& out, char kind, const char* path, size_t size) {
  char number[24];
  size_t digits = 0;
  size_t value = size;
  do {
    number[digits++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  out.Append(&kind, 1);
  while (digits > 0) out.Append(&number[--digits], 1);
  out.Append(":", 1);
  out.Append(path, size);
}

// Calls `fn(char kind, const char* path, size_t size)` for each encoded action of `text` (a
// NUL-terminated string). Returns false if `text` is malformed (after the well-formed ones).
template <typename Fn>
bool DecodeSpawnActions(const char* text, Fn fn) {
  const char* p = text;
  while (*p != '\0') {
    const char kind = *p++;
    size_t size = 0;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') size = size * 10 + static_cast<size_t>(*p++ - '0');
    if (*p++ != ':') return false;
    for (size_t i = 0; i < size; ++i) {
      if (p[i] == '\0') return false;
    }
    fn(kind, p, size);
    p += size;
  }
  return true;
}

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_LAUNCH_PROTOCOL_H_
