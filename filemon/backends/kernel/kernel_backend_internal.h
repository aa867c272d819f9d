// File: filemon/backends/kernel/kernel_backend_internal.h
//
// Test hooks of the kernel backend. Not for library users.
//
// Example:
//   // Drive Run() on Linux, where MakeKernelBackend() refuses:
//   std::unique_ptr<filemon::Backend> b =
//       filemon::NewKernelBackendUnchecked(options);  // options.device_path = "/dev/null"

#ifndef FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_INTERNAL_H_
#define FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_INTERNAL_H_

#include <sys/types.h>

#include <functional>
#include <memory>

#include "filemon/backends/kernel/kernel_backend.h"

namespace filemon {

// Stand-ins for the two ioctls, so that Run() can be driven where no filemon(4) exists (with
// any openable device path, e.g. /dev/null, and a test that plays the kernel by appending
// records to the log). Unset members use the device.
struct KernelDeviceHooks {
  // Instead of FILEMON_SET_FD: gets the log descriptor (open until Run returns only if the
  // hook dup()s it). Returns 0 or an errno.
  std::function<int(int log_fd)> set_log_fd;
  // Instead of FILEMON_SET_PID, in the child between fork and exec: async-signal-safe.
  // Returns 0 or an errno.
  int (*set_pid_in_child)(pid_t pid) = nullptr;
};

// The backend without MakeKernelBackend's platform check and device probe.
std::unique_ptr<Backend> NewKernelBackendUnchecked(KernelBackendOptions options,
                                                   KernelDeviceHooks hooks = {});

}  // namespace filemon

#endif  // FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_INTERNAL_H_
