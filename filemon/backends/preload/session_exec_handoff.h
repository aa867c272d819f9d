// File: filemon/backends/preload/session_exec_handoff.h
//
// auto's hand-off for the command a session's caller execs itself. Inside a traced tree the
// interposer execs auto's ptrace helper in place of a program it cannot enter (statically
// linked, 32-bit, Go). The command of a session is exec'd by the caller's own code (bmake's
// compat mode execs a command without shell syntax directly), where no interposer runs; so the
// child arms this hand-off in `PrepareChild`, and the caller's exec of such a program becomes,
// in the same process, the exec of `helper PROGRAM -- ARGV...` (helper_main.cc) without
// LD_PRELOAD, exactly as the interposer does it.
//
// How: Syscall User Dispatch (Linux 5.11+, x86-64). Every system call the child makes from the
// caller's code between `ArmExecHandoff` and its exec stops in a SIGSYS handler, which makes
// the call from code of its own (the one range allowed) and returns its result; for `execve`
// it first probes the program (exec_probe.h). The exec ends the dispatch and resets the
// handler; the signal mask the program starts with is the one the caller's code left.
// Nothing outlives the exec, and nothing of the caller's process changes (after vfork the
// child's signal actions and dispatch are its own; it writes only this file's two variables).
// A few system calls cost a signal each: only the child's few calls before its exec.

#ifndef FILEMON_BACKENDS_PRELOAD_SESSION_EXEC_HANDOFF_H_
#define FILEMON_BACKENDS_PRELOAD_SESSION_EXEC_HANDOFF_H_

namespace filemon {
namespace preload_internal {

// In the child after fork/vfork, before the caller's exec. `helper` must stay valid until the
// exec. Async-signal-safe, allocates nothing. Returns 0, or an errno value when the kernel or
// the architecture has no Syscall User Dispatch (the exec is then left alone).
int ArmExecHandoff(const char* helper);

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SESSION_EXEC_HANDOFF_H_
