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
namespace {

using BackendOr = absl::StatusOr<std::unique_ptr<Backend>>;

// `auto`: the kernel device only where filemon(4) exists (never on Linux); else preload where
// the interposer sees everything, and ptrace for a command whose program it cannot enter (and,
// through filemon_preload_helper, for such programs exec'd later). See README.md, "How auto
// decides".
BackendOr MakeAutoBackend() {
  if (PlatformHasFilemonDevice()) {
    BackendOr kernel = MakeKernelBackend();
    if (kernel.ok()) return kernel;
  }
  PreloadOptions options;
  options.auto_mode = true;
  BackendOr ptrace = MakePtraceBackend();
  if (ptrace.ok()) options.fallback = *std::move(ptrace);
  return MakePreloadBackend(std::move(options));
}

// Every name, made the same way: the backend's `MakeXBackend` with its default options.
struct Entry {
  absl::string_view name;
  BackendOr (*make)();
};
const Entry kBackends[] = {
    {"ptrace", [] { return MakePtraceBackend(); }},
    {"preload", [] { return MakePreloadBackend(); }},
    {"ebpf", [] { return MakeEbpfBackend(); }},
    {"kernel", [] { return MakeKernelBackend(); }},
    {"auto", MakeAutoBackend},
};

}  // namespace

std::vector<absl::string_view> BackendNames() {
  std::vector<absl::string_view> names;
  for (const Entry& entry : kBackends) names.push_back(entry.name);
  return names;
}

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(absl::string_view name) {
  for (const Entry& entry : kBackends) {
    if (entry.name == name) return entry.make();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown backend \"", name, "\"; expected one of ",
                                                 absl::StrJoin(BackendNames(), ", ")));
}

}  // namespace filemon
