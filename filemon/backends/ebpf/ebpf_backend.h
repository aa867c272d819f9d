// File: filemon/backends/ebpf/ebpf_backend.h
//
// The ebpf backend (Linux, root or CAP_BPF + CAP_PERFMON): a BPF program (filemon.bpf.c) that
// the kernel runs at the exit of every system call, fork, exec and exit, records the command's
// tree into a ring buffer in the kernel's order, and this loader turns the events into records
// with the ptrace backend's letters and path rules. Nothing is injected into the traced
// programs: static, 32-bit and Go programs are seen, set-ID programs keep their privilege.
// Nothing is lost silently: when the ring buffer was full, the log says
// `# filemon: lost N records`; when the kernel's map of traced processes was full (8192 at
// once per filemon process), a child it could not take runs untraced and the log says
// `# filemon: pid N: not traced: ...` after its F; either way `Run()` fails with DataLoss.
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakeEbpfBackend();
//   if (!backend.ok()) return backend.status();  // e.g. not root
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &writer);

#ifndef FILEMON_BACKENDS_EBPF_EBPF_BACKEND_H_
#define FILEMON_BACKENDS_EBPF_EBPF_BACKEND_H_

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "filemon/core/backend.h"

namespace filemon {

// OK if this host and user can load the program (BTF at /sys/kernel/btf/vmlinux, Linux 5.17 or
// later, the capabilities, the initial pid namespace, whose pids the program sees, and a
// kernel that lets this process load a tracing program: a
// container or a user namespace may refuse it even to root; a trial load of a two-instruction
// program finds out); otherwise Unavailable naming what is missing.
absl::Status EbpfBackendAvailable();

struct EbpfOptions {
  // The ring buffer between the kernel and filemon, per run: a power of two, at least a page.
  // The default holds the records of a parallel build while filemon is not scheduled (the
  // program wakes filemon when it is half full); each page of it costs the start and the end
  // of every run (allocated, mapped, copied at fork, freed).
  size_t ring_buffer_bytes = size_t{8} << 20;
};

// Fails with `EbpfBackendAvailable()`'s status where the host cannot load the program (the
// shape of every backend's factory: backend_factory.h).
// `Run()` reaps only its own child (waitpid(pid)); it may run in several threads at once. The
// program is loaded once per process and shared by every run and session, each with a slot
// and a ring buffer of its own (loader.h). `StartSession()` needs no tracer process
// (ebpf_session.h).
absl::StatusOr<std::unique_ptr<Backend>> MakeEbpfBackend(EbpfOptions options = {});

}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_EBPF_BACKEND_H_
