// File: filemon/backends/ptrace/ptrace_backend.h
//
// The ptrace backend (Linux): traces a command and all its descendants without privileges, with
// a seccomp-bpf filter so that the tracee stops only on the file system calls filemon records
// (see syscall_table.h), and implements the fork-it-yourself protocol of `TraceSession` with a
// separate tracer process.
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakePtraceBackend();
//   if (!backend.ok()) return backend.status();  // e.g. ptrace disabled by Yama
//   filemon::Command command;
//   command.argv = {"make", "-j2"};
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &writer);

#ifndef FILEMON_BACKENDS_PTRACE_PTRACE_BACKEND_H_
#define FILEMON_BACKENDS_PTRACE_PTRACE_BACKEND_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "filemon/core/backend.h"

namespace filemon {

// OK if this host can use the backend (Linux on a CPU with a syscall table, seccomp filters,
// PTRACE_GET_SYSCALL_INFO); otherwise why not.
absl::Status PtraceBackendAvailable();

// Nothing to choose yet; here so that every backend is made the same way
// (`MakeXBackend(XBackendOptions)`, see backend_factory.h).
struct PtraceBackendOptions {};

// Fails with `PtraceBackendAvailable()`'s status where the host cannot trace.
// Run() waits with waitpid(-1): while it runs, the calling process must have no other child it
// wants to reap (use StartSession() otherwise). SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to the caller
// with kill(2) during Run() are passed on to the command.
absl::StatusOr<std::unique_ptr<Backend>> MakePtraceBackend(PtraceBackendOptions options = {});

}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_PTRACE_BACKEND_H_
