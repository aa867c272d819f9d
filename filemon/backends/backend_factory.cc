#include "filemon/backends/backend_factory.h"

#include <unistd.h>

#include <utility>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "filemon/backends/ebpf/ebpf_backend.h"
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/backends/kernel/kernel_backend.h"
#include "filemon/backends/preload/preload_backend.h"
#include "filemon/backends/ptrace/ptrace_backend.h"
#include "filemon/core/record.h"

namespace filemon {
namespace {

using BackendOr = absl::StatusOr<std::unique_ptr<Backend>>;

// What the log of a run that `auto` gave to ebpf says first.
constexpr absl::string_view kEbpfChosen =
    " auto: tracing with ebpf: root, and the kernel loads BPF programs (ebpf sees every "
    "program, static and set-ID ones included, at the lowest cost)";

// `auto` as root: `Run()` traces with ebpf where it can load, its log opening with
// kEbpfChosen, and otherwise with preload's auto; sessions (bmake's filemon API, one per target)
// stay with preload's auto (README.md, "How auto decides"). Whether ebpf can load is asked at
// the first `Run()`, not when the backend is made: the question costs a trial load of a BPF
// program, which a caller of sessions only (bmake, once per run) never needs.
class AutoWithEbpf : public Backend {
 public:
  explicit AutoWithEbpf(std::unique_ptr<Backend> preload) : preload_(std::move(preload)) {}
  absl::string_view name() const override { return "auto"; }
  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override {
    Backend* ebpf = Ebpf();
    if (ebpf == nullptr) return preload_->Run(command, options, sink);
    sink->Add(Record::Comment(kEbpfChosen));
    return ebpf->Run(command, options, sink);
  }
  absl::StatusOr<std::unique_ptr<TraceSession>> StartSession(const TraceOptions& options) override {
    return preload_->StartSession(options);
  }

 private:
  // The ebpf backend, made once, by the first run; null where it cannot run.
  Backend* Ebpf() {
    absl::call_once(ebpf_once_, [this] {
      BackendOr ebpf = MakeEbpfBackend();
      if (ebpf.ok()) ebpf_ = *std::move(ebpf);
    });
    return ebpf_.get();
  }

  std::unique_ptr<Backend> preload_;
  absl::once_flag ebpf_once_;
  std::unique_ptr<Backend> ebpf_;  // set once, under ebpf_once_
};

}  // namespace

// The kernel device only where filemon(4) exists (never on Linux); else ebpf for runs where it
// can load and the user is root; else preload where the interposer sees everything, and ptrace
// for a command whose program it cannot enter (and, through filemon_preload_helper, for such
// programs exec'd later). See README.md, "How auto decides".
BackendOr MakeAutoBackend(AutoOptions auto_options) {
  if (PlatformHasFilemonDevice()) {
    BackendOr kernel = MakeKernelBackend();
    if (kernel.ok()) return kernel;
  }
  PreloadOptions options;
  options.auto_mode = true;
  // ptrace's own checks (the kernel's release, Yama, seccomp) at the first run, or a session
  // without the library: bmake's sessions never need them.
  options.make_fallback = [] { return MakePtraceBackend(); };
  BackendOr preload = MakePreloadBackend(std::move(options));
  if (auto_options.ebpf != AutoEbpf::kNever && preload.ok() && geteuid() == 0) {
    return std::unique_ptr<Backend>(std::make_unique<AutoWithEbpf>(*std::move(preload)));
  }
  return preload;
}

namespace {

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
    {"auto", [] { return MakeAutoBackend(); }},
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
