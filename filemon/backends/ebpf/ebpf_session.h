// File: filemon/backends/ebpf/ebpf_session.h
//
// The ebpf backend's `TraceSession` (the fork-it-yourself protocol of filemon/core/backend.h,
// bmake's filemon API). No tracer process: the BPF program records in the kernel, and the
// caller's own calls to `Process()`/`Finish()` read its ring buffer. The caller's child puts
// itself in the traced map in `PrepareChild()` (it waits for nothing: a vfork parent cannot
// answer before the exec); `ReadFd()` is the ring buffer's, readable when records (the tree's
// last X included) are waiting. The program is the process's shared one (loader.h): a session
// costs a slot, not a load.

#ifndef FILEMON_BACKENDS_EBPF_EBPF_SESSION_H_
#define FILEMON_BACKENDS_EBPF_EBPF_SESSION_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "filemon/core/backend.h"

namespace filemon {
namespace ebpf_internal {

// Loads the program; Unavailable where the kernel refuses BPF.
absl::StatusOr<std::unique_ptr<TraceSession>> StartEbpfSession(const TraceOptions& options,
                                                               size_t ring_bytes);

}  // namespace ebpf_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_EBPF_SESSION_H_
