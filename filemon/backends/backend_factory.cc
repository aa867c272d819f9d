#include "filemon/backends/backend_factory.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/backends/kernel/kernel_backend.h"
#include "filemon/backends/ptrace/ptrace_backend.h"

namespace filemon {

std::vector<absl::string_view> BackendNames() { return {"ptrace", "preload", "kernel", "auto"}; }

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(absl::string_view name) {
  if (name == "kernel") return MakeKernelBackend();
  // `auto` takes the kernel device only where filemon(4) exists (never on Linux).
  if (name == "auto" && PlatformHasFilemonDevice()) {
    absl::StatusOr<std::unique_ptr<Backend>> kernel = MakeKernelBackend();
    if (kernel.ok()) return kernel;
  }
  if (name == "ptrace" || name == "auto") {
    // `auto` picks ptrace until the preload backend (issue 12) lands.
    absl::Status available = PtraceBackendAvailable();
    if (!available.ok()) return available;
    return MakePtraceBackend();
  }
  if (name == "preload") {
    return absl::UnavailableError(
        "backend preload: the LD_PRELOAD interposer is not built yet (issue 12); use "
        "--backend=ptrace");
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown backend \"", name, "\"; expected one of ",
                                                 absl::StrJoin(BackendNames(), ", ")));
}

}  // namespace filemon
