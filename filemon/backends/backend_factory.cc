#include "filemon/backends/backend_factory.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "filemon/backends/ptrace/ptrace_backend.h"

namespace filemon {

std::vector<absl::string_view> BackendNames() { return {"ptrace", "preload", "kernel", "auto"}; }

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(absl::string_view name) {
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
  if (name == "kernel") {
    return absl::UnimplementedError(
        "backend kernel: /dev/filemon exists only on FreeBSD and NetBSD and its driver is not "
        "built yet (issue 7); use --backend=ptrace on Linux");
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown backend \"", name, "\"; expected one of ",
                                                 absl::StrJoin(BackendNames(), ", ")));
}

}  // namespace filemon
