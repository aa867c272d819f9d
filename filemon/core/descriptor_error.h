// File: filemon/core/descriptor_error.h
//
// The error of a call that makes a file descriptor, saying so when the limit on open
// descriptors (RLIMIT_NOFILE, `ulimit -n`) is the cause, with the limit: a tiny limit should
// read as the reason, not as a bare "Invalid argument" or "Too many open files".
//
// Example:
//   int fds[2];
//   if (pipe2(fds, O_CLOEXEC) != 0) return DescriptorError(errno, "pipe2(ready)");
//   int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
//   DescriptorRequest request;
//   request.lowest = 10;
//   if (high < 0) return DescriptorError(errno, "fcntl(F_DUPFD_CLOEXEC)", request);

#ifndef FILEMON_CORE_DESCRIPTOR_ERROR_H_
#define FILEMON_CORE_DESCRIPTOR_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace filemon {

struct DescriptorRequest {
  // The lowest descriptor the call may return (F_DUPFD's argument); 0 for any.
  int lowest = 0;
};

// `what` failed with errno `error`. EMFILE, and EINVAL when `request.lowest` is at or above
// the limit (F_DUPFD's refusal), give a ResourceExhausted error that names the limit:
//   "pipe2(ready): no descriptor is free below RLIMIT_NOFILE (ulimit -n) 8: Too many open files"
//   "fcntl(F_DUPFD_CLOEXEC): filemon needs descriptors from 10 up, but RLIMIT_NOFILE
//    (ulimit -n) is 8"
// Any other error: absl::ErrnoToStatus(error, what).
absl::Status DescriptorError(int error, absl::string_view what, DescriptorRequest request = {});

}  // namespace filemon

#endif  // FILEMON_CORE_DESCRIPTOR_ERROR_H_
