// File: filemon/backends/preload/exec_probe_cache.h
//
// `ProbeExecutable` (exec_probe.h) for the programs a session's child execs
// (session_exec_handoff.h): bmake execs the same shell for nearly every command, and a probe costs
// four system calls (open, fstat, pread, close). A program found preloadable is remembered by its
// identity (device, inode, size, mode, modification and change times, from one stat(2) of the
// path), so the next exec of the same unchanged file costs that one stat. Anything else (a program
// the interposer cannot enter, a `#!` script, a set-ID program, a path that cannot be stat'ed) is
// probed in full every time.
//
// The memory is a fixed table in the process (no allocation): after vfork the child fills the
// table of the parent it borrows, which finds it there afterwards; a forked child has a copy.
// Entries are sequence-locked: any thread, and a vforked child, may look up and fill at once;
// a reader never takes an entry that a writer is changing (it probes in full instead), and a
// writer that meets another leaves the entry alone, unless that writer's process is gone (a
// vforked child killed while it filled the entry: once it is reaped, the next writer takes the
// entry over; a look paid only after a full probe). Async-signal-safe; raw system calls only.
//
// Limit: a rewrite in place that keeps the size, within one tick of the filesystem's
// timestamps (coarse on some filesystems, and the times a file's writer may set itself), keeps
// the identity and is not noticed: the limit make's own modification-time test has.

#ifndef FILEMON_BACKENDS_PRELOAD_EXEC_PROBE_CACHE_H_
#define FILEMON_BACKENDS_PRELOAD_EXEC_PROBE_CACHE_H_

#include <cstdint>

#include "filemon/backends/preload/exec_probe.h"

namespace filemon {
namespace preload_internal {

// `ProbeExecutable(path)`, or, for a file remembered as preloadable and unchanged since, its
// answer without reading the file (`judged` is `path`).
// REQUIRES: `path` NUL-terminated.
ExecProbe ProbeExecutableRemembered(const char* path);

// For tests: how many probes of this process were answered from the table.
uint64_t RememberedProbesForTesting();

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_EXEC_PROBE_CACHE_H_
