// File: filemon/backends/ebpf/field_cache.h
//
// The running kernel's field offsets (kernel_btf.h) kept between filemon processes: the answer
// changes only with the kernel, and searching the kernel's BTF was the largest part of the
// program's start that filemon itself computes. Root's processes keep it in
// /run/filemon/kernel-fields (/run is emptied at every boot), as text, stamped with the running
// kernel's GNU build ID (from /sys/kernel/notes: every build of a kernel has its own) and with
// what the program reads of each field (kernel_btf.h's DescribeField). A file of another
// kernel, of another list of fields, damaged, or that anyone but root could have written is a
// miss, never a wrong offset: the search runs and its answer replaces the file. Without a build
// ID, or for a process that is not root, nothing is cached.
//
// Example:
//   bool hit = false;
//   absl::StatusOr<KernelFields> fields =
//       CachedKernelFields(FieldCachePaths{}, SearchRunningKernel, &hit);

#ifndef FILEMON_BACKENDS_EBPF_FIELD_CACHE_H_
#define FILEMON_BACKENDS_EBPF_FIELD_CACHE_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "filemon/backends/ebpf/kernel_btf.h"

namespace filemon {
namespace ebpf_internal {

struct FieldCachePaths {
  std::string dir = "/run/filemon";         // made (mode 0700) if missing
  std::string notes = "/sys/kernel/notes";  // the running kernel's ELF notes
};

// The offsets for the kernel whose notes are at `paths.notes`: the cache's in `paths.dir` when
// it holds them for that kernel and these fields, else `search()`'s (stored there when it
// succeeds). `*hit` says whether the cache answered. Errors are `search()`'s only: a cache that
// cannot be read or written is not used.
absl::StatusOr<KernelFields> CachedKernelFields(
    const FieldCachePaths& paths, absl::FunctionRef<absl::StatusOr<KernelFields>()> search,
    bool* hit);

}  // namespace ebpf_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_FIELD_CACHE_H_
