#include "filemon/core/descriptor_error.h"

#include <errno.h>
#include <sys/resource.h>

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace filemon {

absl::Status DescriptorError(int error, absl::string_view what, DescriptorRequest request) {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return absl::ErrnoToStatus(error, what);
  }
  const uint64_t soft = limit.rlim_cur;
  if (error == EINVAL && request.lowest > 0 && static_cast<uint64_t>(request.lowest) >= soft) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": filemon needs descriptors from ", request.lowest,
                     " up, but RLIMIT_NOFILE (ulimit -n) is ", soft));
  }
  if (error == EMFILE) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": no descriptor is free below RLIMIT_NOFILE (ulimit -n) ", soft,
                     ": Too many open files"));
  }
  return absl::ErrnoToStatus(error, what);
}

}  // namespace filemon
