// File: filemon/backends/kernel/kernel_backend_internal.h
//
// Test hooks of the kernel backend. Not for library users.
//
// Example:
//   // Drive Run()'s error paths on Linux, where MakeKernelBackend() refuses:
//   std::unique_ptr<filemon::Backend> b =
//       filemon::NewKernelBackendUnchecked(options);  // options.device_path = "/dev/null"

#ifndef FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_INTERNAL_H_
#define FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_INTERNAL_H_

#include <memory>

#include "filemon/backends/kernel/kernel_backend.h"

namespace filemon {

// The backend without MakeKernelBackend's platform check and device probe.
std::unique_ptr<Backend> NewKernelBackendUnchecked(KernelBackendOptions options);

}  // namespace filemon

#endif  // FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_INTERNAL_H_
