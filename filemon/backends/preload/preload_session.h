// File: filemon/backends/preload/preload_session.h
//
// The preload backend's `TraceSession` (filemon/core/backend.h): the fork-it-yourself protocol
// of bmake's filemon API, at the cost of the interposer rather than of a tracer process.
//
// How one session works:
//   - `StartPreloadSession` (the parent, before fork) opens the session's own channel
//     (supervisor_channel.h: socket, pipe, reconnection listener), the tree-wide setlocale
//     cache, and the child's environment (session_environment.h). Each session has its own
//     channel, so the records of bmake's concurrent jobs, one session each, cannot mix: a job's
//     processes hold only their own session's descriptors (the others are close-on-exec in the
//     caller).
//   - `PrepareChild` (the child, after fork or vfork): points `environ` at the session's
//     environment (LD_PRELOAD, the descriptors, FILEMON_PRELOAD_PID = the child itself) and
//     clears close-on-exec on the two descriptors. Async-signal-safe, allocates nothing; after
//     vfork the caller's memory is as it was once `SetChild` has run (`environ` is restored).
//   - `SetChild` (the parent): restores `environ`, closes the parent's copies of the child's
//     ends, and starts the session's supervisor: a thread of the caller's process, which
//     creates no process (the caller's waitpid(-1) never meets one of ours) and blocks every
//     signal. It runs the pump (pump.h) on the channel with `SessionWait`: the adaptive tick
//     of a run, and the end of the traced tree seen as the end of the channel: every process
//     of the tree (orphans included) holds the pipe and the socket until it exits, so the
//     pipe's and the socket's hangups say the tree is done. The records go, formatted, into a
//     memfd that `Process`/`Finish` read back into the caller's sink (session_log.h).
//   - Exits: each process writes its own X; a process killed by a signal gets it from its
//     parent's interposed wait. The command itself is the caller's child, reaped by the
//     caller: when it dies by a signal, the supervisor reads the status without reaping it
//     (waitid WNOWAIT on its pidfd, as soon as it exits) and writes its X.
//   - `auto` (helper set): a program the interposer cannot enter, exec'd inside the tree, is
//     handed in place to the ptrace helper, as in `Run()`. The command the caller execs itself
//     cannot be: nothing of ours runs at that exec. If it is such a program (bmake's compat
//     mode execs a command without shell syntax directly), its operations are lost and the log
//     says so in a `#` comment naming it.
//
// Destroying a session before `Finish()` stops its supervisor; the traced processes then end
// at their next record (SIGPIPE), as when a run's supervisor dies.

#ifndef FILEMON_BACKENDS_PRELOAD_PRELOAD_SESSION_H_
#define FILEMON_BACKENDS_PRELOAD_PRELOAD_SESSION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "filemon/core/backend.h"

namespace filemon {
namespace preload_internal {

struct SessionSettings {
  std::string library;  // the interposer
  std::string helper;   // auto's ptrace helper; empty: none (plain preload)
  bool auto_mode = false;
  bool absolute_paths = false;  // TraceOptions::absolute_paths
  bool probes = false;          // TraceOptions::probes
};

absl::StatusOr<std::unique_ptr<TraceSession>> StartPreloadSession(const SessionSettings& settings);

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PRELOAD_SESSION_H_
