// Hosts without a syscall table: the ptrace backend reports itself unavailable
// (PtraceBackendAvailable) instead of tracing with wrong numbers.

#include "absl/types/span.h"
#include "filemon/backends/ptrace/syscall_table.h"

namespace filemon {
namespace ptrace_internal {

absl::Span<const AbiTable> HostAbis() { return {}; }

}  // namespace ptrace_internal
}  // namespace filemon
