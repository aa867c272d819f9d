#include "filemon/backends/backend_factory.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "filemon/backends/ebpf/ebpf_backend.h"
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/backends/kernel/kernel_backend.h"
#include "filemon/backends/preload/preload_backend.h"
#include "filemon/backends/ptrace/ptrace_backend.h"

namespace filemon {

std::vector<absl::string_view> BackendNames() {
  return {"ptrace", "preload", "ebpf", "kernel", "auto"};
}

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(absl::string_view name) {
  if (name == "kernel") return MakeKernelBackend();
  // `auto` takes the kernel device only where filemon(4) exists (never on Linux).
  if (name == "auto" && PlatformHasFilemonDevice()) {
    absl::StatusOr<std::unique_ptr<Backend>> kernel = MakeKernelBackend();
    if (kernel.ok()) return kernel;
  }
  if (name == "ptrace") {
    absl::Status available = PtraceBackendAvailable();
    if (!available.ok()) return available;
    return MakePtraceBackend();
  }
  if (name == "preload") return MakePreloadBackend(PreloadOptions{});
  if (name == "ebpf") {
    absl::Status available = EbpfBackendAvailable();
    if (!available.ok()) return available;
    return MakeEbpfBackend();
  }
  if (name == "auto") {
    // Preload where the interposer sees everything; ptrace for a command whose program it
    // cannot enter (and, through filemon_preload_helper, for such programs exec'd later).
    // See README.md, "How auto decides".
    PreloadOptions options;
    options.auto_mode = true;
    if (PtraceBackendAvailable().ok()) options.fallback = MakePtraceBackend();
    return MakePreloadBackend(std::move(options));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown backend \"", name, "\"; expected one of ",
                                                 absl::StrJoin(BackendNames(), ", ")));
}

}  // namespace filemon
