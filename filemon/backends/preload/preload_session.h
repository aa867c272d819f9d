// File: filemon/backends/preload/preload_session.h
//
// The preload backend's `TraceSession` (filemon/core/backend.h): the fork-it-yourself protocol
// of bmake's filemon API, at the cost of the interposer rather than of a tracer process.
//
// How one session works:
//   - `StartPreloadSession` (the parent, before fork) takes the process's shared supervisor
//     (shared_supervisor.h: made by the first session, one thread, socket, listener and
//     setlocale cache for every session of the process), a traced tree of it (a pipe of its
//     own), and the child's environment (session_environment.h: made once per process,
//     settings and pipe descriptor, and kept between sessions). The records of
//     bmake's concurrent jobs, one session each, cannot mix: each tree's records are routed to
//     its own log from its root down, and a job's processes hold only their own tree's pipe
//     (the others are close-on-exec in the caller).
//   - `PrepareChild` (the child, after fork or vfork): points `environ` at the session's
//     environment (LD_PRELOAD, the descriptors, FILEMON_PRELOAD_PID = the child itself),
//     clears close-on-exec on the socket and puts the tree's pipe at the number the
//     environment names (a place the supervisor keeps beside the socket, replaced in the
//     child's descriptor table only: TracedTree::PlaceChildPipe). Async-signal-safe, allocates
//     nothing; after vfork the caller's memory is as it was once `SetChild` has run (`environ`
//     is restored).
//   - `SetChild` (the parent): restores `environ`, closes the parent's copy of the tree's pipe
//     and hands the tree to the supervisor, which creates no process (the caller's waitpid(-1)
//     never meets one of ours). The end of the traced tree is the hangup of its pipe: every
//     process of the tree (orphans included) holds it until it exits. The records wait in
//     memory for `Process`/`Finish`, which move them into the caller's sink; once the command
//     has exited, they finish the tree themselves, in the caller's thread (bmake reaps, then
//     asks: the supervisor thread is not woken per command); a tree whose orphans outlive the
//     command is the thread's to finish. `ReadFd` polls readable once the command has exited
//     (then `Process` finishes the tree or leaves it to the thread, and the descriptor turns
//     readable again only once the thread is done with it).
//   - Exits: each process writes its own X; a process killed by a signal gets it from its
//     parent's interposed wait. The command itself is the caller's child, reaped by the
//     caller: when it dies by a signal, the supervisor reads the status from its pidfd (waitid
//     WNOWAIT before the caller reaps it; after, Linux 6.15+ keeps it) and writes its X. On a
//     kernel that keeps no status for a reaped pidfd (found once per process), the supervisor
//     thread is woken by the command's exit to read it from the zombie, racing the caller's
//     waitpid: a command that bmake reaps before that look has no X.
//   - `auto` (helper set): a program the interposer cannot enter, exec'd inside the tree, is
//     handed in place to the ptrace helper, as in `Run()`. The command the caller execs itself
//     is handed over by the child's own Syscall User Dispatch (session_exec_handoff.h; armed by
//     `PrepareChild`, or by the caller's exec function: `SetHandoffArmedAtExec`); where
//     that is missing, its operations are lost and the log says so in a `#` comment naming it.
//
// Destroying a session before `Finish()` kills the command (through its pidfd) and stops
// reading its tree's pipe; the rest of the tree ends at its next record (SIGPIPE), as when a
// run's supervisor dies. A session is the process's that started it: in a forked child that
// did not exec, `SetChild`, `Process` and `Finish` fail (FailedPrecondition), `ReadFd` returns
// -1 (EPERM), and destroying the child's copy leaves the command alone.

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

// Where the child's exec hand-off is armed. By default `PrepareChild` arms it, and every
// system call the caller's code makes in the child until its exec costs a SIGSYS (about 20
// for bmake's job child). Where the caller's exec functions are this library's
// (preload_session_exec.cc, linked into libbmake-filemon.so, says so once it has checked that
// the process's execv, execvp... resolve to them), `PrepareChild` leaves the hand-off pending
// and the exec function arms it right before the exec: one SIGSYS. Process-wide.
void SetHandoffArmedAtExec(bool at_exec);
// In a session's child, from the caller's exec function: arms the hand-off `PrepareChild` left
// pending for this process, if any. Async-signal-safe; allocates nothing.
void ArmPendingHandoff();
// The same for execve(path, argv, envp) itself: made as the hand-off makes it
// (session_exec_handoff.h, `ExecHandedOff`: no signal at all) if a hand-off is pending for
// this process; else by the C library's `real`. Returns only on failure (-1, errno).
int ExecvePending(const char* path, char* const* argv, char* const* envp,
                  int (*real)(const char*, char* const*, char* const*));

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PRELOAD_SESSION_H_
