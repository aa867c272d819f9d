// File: filemon/backends/backend_factory.h
//
// Maps a backend name to an implementation of `filemon::Backend` (filemon/core/backend.h):
//   "ptrace"  - ptrace + seccomp-bpf (Linux, unprivileged; sees static binaries too);
//   "preload" - LD_PRELOAD interposer (dynamically linked programs; see preload_backend.h);
//   "ebpf"    - a BPF program in the kernel (Linux, root; ebpf/ebpf_backend.h);
//   "kernel"  - FreeBSD/NetBSD /dev/filemon (kernel/kernel_backend.h; Unavailable on Linux);
//   "auto"    - the kernel device where filemon(4) exists (never on Linux); else, for runs,
//               ebpf where it can run and the user is root; else preload where the interposer
//               sees everything, ptrace where it cannot (a statically linked program, a Go
//               program); see README.md "How auto decides" and `MakeAutoBackend`.
// An unknown or unavailable backend is a Status naming the reason, never a crash.
//
// Every backend is made the same way, by its own header's
//   absl::StatusOr<std::unique_ptr<Backend>> MakeXBackend(XBackendOptions options = {});
// which fails (Unavailable, Unimplemented) where this host cannot provide it. A new backend
// adds that function and one line to the table in backend_factory.cc.
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakeBackend("auto");
//   if (!backend.ok()) return backend.status();
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &writer);

#ifndef FILEMON_BACKENDS_BACKEND_FACTORY_H_
#define FILEMON_BACKENDS_BACKEND_FACTORY_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/backend.h"

namespace filemon {

// Errors: InvalidArgument for an unknown name; Unavailable/Unimplemented (with the reason and
// the issue that tracks it) for a backend this build or host cannot provide.
absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(absl::string_view name);

// Whether `auto` may trace with ebpf.
enum class AutoEbpf {
  kWhereAvailable,  // runs, where ebpf can run and the user is root (the log says so first)
  kNever,           // preload and ptrace, as on a host without ebpf
};

struct AutoOptions {
  AutoEbpf ebpf = AutoEbpf::kWhereAvailable;
};

// `MakeBackend("auto")` is `MakeAutoBackend({})`. Its sessions (`StartSession`, bmake's filemon
// API) never use ebpf, root or not; `MakeBackend("ebpf")` serves sessions too.
absl::StatusOr<std::unique_ptr<Backend>> MakeAutoBackend(AutoOptions options = {});

// The names `MakeBackend` accepts, "auto" last.
std::vector<absl::string_view> BackendNames();

}  // namespace filemon

#endif  // FILEMON_BACKENDS_BACKEND_FACTORY_H_
