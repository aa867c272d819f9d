// File: filemon/backends/preload/session_exec_handoff.h
//
// The exec of the command a session's caller execs itself, made as the interposer makes the
// execs inside a traced tree. The command of a session is exec'd by the caller's own code
// (bmake's compat mode execs a command without shell syntax directly), where no interposer
// runs; so the child arms this hand-off in `PrepareChild`, and the caller's exec goes through
// it:
//   - auto: a program the interposer cannot enter (statically linked, 32-bit, Go) becomes, in
//     the same process, the exec of `helper PROGRAM -- ARGV...` (helper_main.cc) without
//     LD_PRELOAD, exactly as the interposer does it;
//   - an exec the kernel refuses with E2BIG (the session's variables left no room at the
//     kernel's limit on argv and environment) is tried again with the smaller environments
//     `ExecFallbacks` gives (without the setlocale cache, then untraced), as the interposer's
//     exec wrappers do (environment.h, EnvLevel). The log's note of an untraced command is
//     the supervisor's: its root sent no record.
//
// How: Syscall User Dispatch (Linux 5.11+, x86-64). Every system call the child makes from the
// caller's code between `ArmExecHandoff` and its exec stops in a SIGSYS handler, which makes
// the call from code of its own (the one range allowed) and returns its result; for `execve`
// it first probes the program (exec_probe.h). The exec ends the dispatch and resets the
// handler; the signal mask the program starts with is the one the caller's code left. A
// process creation (fork, vfork, clone, clone3: posix_spawn in the child) ends the dispatch
// too, and is made as the caller's code made it: the hand-off is off for the rest of the
// child.
// Nothing outlives the exec, and nothing of the caller's process changes (after vfork the
// child's signal actions and dispatch are its own; it writes only this file's variables).
// A few system calls cost a signal each: only the child's few calls before its exec.

#ifndef FILEMON_BACKENDS_PRELOAD_SESSION_EXEC_HANDOFF_H_
#define FILEMON_BACKENDS_PRELOAD_SESSION_EXEC_HANDOFF_H_

#include <sys/types.h>

#include <cstddef>

namespace filemon {
namespace preload_internal {

// The smaller environments to try, in order, when the kernel refused the caller's exec with
// E2BIG. Called in the child, inside the signal handler: async-signal-safe, allocating nothing.
class ExecFallbacks {
 public:
  virtual ~ExecFallbacks() = default;
  // The entries (the null included) `Fill` may write for the refused environment `envp`.
  virtual size_t Room(char* const* envp) const = 0;
  // Writes fallback `step` (0, 1, ...) for `envp` to `out`; false when there is no such step.
  virtual bool Fill(int step, char* const* envp, const char** out) const = 0;
};

struct HandoffOptions {
  const char* helper = nullptr;              // auto's ptrace helper; null: none
  const ExecFallbacks* fallbacks = nullptr;  // null: an E2BIG is the caller's
};

// In the child after fork/vfork, before the caller's exec. What `options` points to must stay
// valid until the exec. Async-signal-safe; allocates nothing but the room of a helper's argv
// or a fallback environment too long for the stack (exec_argv.h). Returns 0, or an errno
// value when the kernel or the architecture has no Syscall User Dispatch (the exec is then
// left alone).
int ArmExecHandoff(const HandoffOptions& options);

// In the child, from the caller's exec function (preload_session_exec.cc) instead of arming:
// execve(path, argv, envp) made as the hand-off makes it (the helper for a program the
// interposer cannot enter, the E2BIG fallbacks), without the dispatch or a signal. Returns
// only on failure: -1 with errno set, the hand-off then armed for the child's next exec.
// Async-signal-safe, as `ArmExecHandoff`.
int ExecHandedOff(const char* path, char* const* argv, char* const* envp,
                  const HandoffOptions& options);

// In the parent, once its vforked child exec'd or exited, on the thread that called vfork: unmaps
// what the child's hand-off mapped in the memory it borrowed (a helper's argv or a fallback
// environment too long for the stack) and left there by exec'ing (exec_argv.h). Cheap when
// there is nothing (no system call); nothing to do after fork.
void ReleaseHandoffRooms();

// In the child, once prepared: tells the session's supervisor through the tree's pipe `pipe`
// that this process, `self` (its getpid()), is traced from now on (wire_format.h,
// WireKind::kPrepared), so that its log ends it with an X even if its exec fails.
// Async-signal-safe, keeps errno. Returns 0, or the errno value of the failed write (the pipe is
// not writable: the session cannot trace this process).
int SendPrepared(int pipe, pid_t self);

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SESSION_EXEC_HANDOFF_H_
