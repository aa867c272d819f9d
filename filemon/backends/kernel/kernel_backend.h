// File: filemon/backends/kernel/kernel_backend.h
//
// The kernel backend: filemon::Backend over the FreeBSD/NetBSD filemon(4) device. `Run` opens
// /dev/filemon, points it at an anonymous log file, forks, names the child with
// FILEMON_SET_PID before exec (the man page's protocol), follows the log the kernel writes
// while the command runs, forwards its records to the sink, and returns once the command and
// every process it started have exited; the close(2) error of the device (a lost record, a
// failed log write) becomes Run's error.
//
// Linux has no filemon device: `MakeKernelBackend()` returns an Unavailable status that names
// /dev/filemon and suggests the ptrace and preload backends. The factory's `auto` never picks
// this backend on Linux.
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakeKernelBackend();
//   if (!backend.ok()) return backend.status();  // Linux: "open(/dev/filemon): ..."
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, sink);

#ifndef FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_H_
#define FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/core/backend.h"

namespace filemon {

struct KernelBackendOptions {
  // The device node. Default: /dev/filemon.
  std::string device_path = kFilemonDevicePath;
  // Where the anonymous log file is created (it is unlinked at once). Empty: $TMPDIR, else
  // /tmp.
  std::string temp_dir;
};

// Checks that the device can be opened (and, on systems without filemon(4), fails with
// Unavailable naming the device and the ptrace/preload alternatives).
absl::StatusOr<std::unique_ptr<Backend>> MakeKernelBackend(KernelBackendOptions options = {});

}  // namespace filemon

#endif  // FILEMON_BACKENDS_KERNEL_KERNEL_BACKEND_H_
