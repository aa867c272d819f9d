// File: filemon/backends/preload/interposer_probes.h
//
// Absent-path probes (`N`, TraceOptions::probes) in the interposer: what interposer.cc and
// interposer_probes.cc (the stat family's wrappers and the per-process memory of sent
// probes) share. A lookup that failed with ENOENT or ENOTDIR (an open without O_CREAT, an
// exec, a stat, access or readlink) becomes `N pid path`, with R's path rules, once per
// process image and path here and once per pid and path in the supervisor. Nothing is sent,
// and nothing but the failure test is paid, unless the supervisor asked for probes
// (kOptionProbes). Hidden: internal to libfilemon_preload.so; libc-only and async-signal-safe.

#ifndef FILEMON_BACKENDS_PRELOAD_INTERPOSER_PROBES_H_
#define FILEMON_BACKENDS_PRELOAD_INTERPOSER_PROBES_H_

#include <errno.h>
#include <fcntl.h>

#include <atomic>
#include <cstddef>

#include "filemon/backends/preload/interposer_state.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// Sends `N` for `path` (relative to `dirfd` as for R) if this process is traced with probes
// and has not sent the same record before. Leaves errno alone.
void SendProbe(int dirfd, const char* path);
// True if this process is traced with probes (for the work that finds a probe's path, which
// only then is worth doing).
bool ProbesWanted();
// A fork child starts with no probes sent (its pid is new).
void ForgetProbesInChild();

// True when no lookup can be a probe: the start is done and chose no probes. The one test a
// wrapper makes before the real call's result matters (before the start, e.g. in another
// library's constructor, the answer is not known yet: false).
inline bool ProbesOff() { return !g_probes && g_init_state.load(std::memory_order_relaxed) == 2; }

// After a lookup of `path` failed with `error`: a probe if the path is absent. `path` is read
// only then (after ENOENT or ENOTDIR the kernel could read it; never after EFAULT); a null or
// empty one names nothing (no probe, as under ptrace: SendProbe).
inline void OnFailedLookup(int dirfd, const char* path, int error) {
  if ((error == ENOENT || error == ENOTDIR) && !ProbesOff()) SendProbe(dirfd, path);
}

// After an open of `path` with `flags` failed with `error`: a probe unless it would have
// created the file.
inline void OnFailedOpen(int dirfd, const char* path, int flags, int error) {
  if ((flags & O_CREAT) == 0) OnFailedLookup(dirfd, path, error);
}

// The O_CREAT an fopen `mode` implies ("w", "a": created; "r", "r+": not).
inline int FopenCreates(const char* mode) {
  return mode != nullptr && (mode[0] == 'w' || mode[0] == 'a') ? O_CREAT : 0;
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_INTERPOSER_PROBES_H_
