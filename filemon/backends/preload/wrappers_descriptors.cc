// The wrappers that keep the interposer's descriptors (the socket and the pipe to the
// supervisor, channel.h) alive in programs that close or dup over every descriptor: close,
// close_range and closefrom spare them, dup2 and dup3 move them out of the way first.

#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "filemon/backends/preload/channel.h"
#include "filemon/backends/preload/close_ranges.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/real_function.h"

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

namespace {

DECLARE_REAL(close, int (*)(int));
DECLARE_REAL(close_range, int (*)(unsigned, unsigned, int));
DECLARE_REAL(closefrom, void (*)(int));
DECLARE_REAL(dup2, int (*)(int, int));
DECLARE_REAL(dup3, int (*)(int, int, int));

// The descriptors close_range and closefrom must spare.
void OurFds(int (&ours)[2]) {
  ours[0] = g_fd.load(std::memory_order_relaxed);
  ours[1] = g_pipe.load(std::memory_order_relaxed);
}

}  // namespace

FILEMON_EXPORT int close(int fd) {
  if (IsOurs(fd)) return 0;
  return REAL(close)(fd);
}

// close_range(first, last) around our descriptors: the pieces between them.
FILEMON_EXPORT int close_range(unsigned first, unsigned last, int flags) noexcept {
  int ours[2];
  OurFds(ours);
  const CloseRanges r = RangesSparing(first, last, ours);
  for (size_t i = 0; i < r.count; ++i) {
    const int rc = REAL(close_range)(r.ranges[i].first, r.ranges[i].last, flags);
    if (rc != 0) return rc;
  }
  return 0;
}

FILEMON_EXPORT void closefrom(int lowfd) noexcept {
  int ours[2];
  OurFds(ours);
  const CloseRanges r = ClosefromRanges(lowfd, ours);
  for (size_t i = 0; i < r.count; ++i) {
    if (r.ranges[i].last == ~0U) {
      REAL(closefrom)(static_cast<int>(r.ranges[i].first));
    } else {
      REAL(close_range)(r.ranges[i].first, r.ranges[i].last, 0);
    }
  }
}

FILEMON_EXPORT int dup2(int oldfd, int newfd) noexcept {
  if (oldfd != newfd) MoveSocketAwayFrom(newfd);
  return REAL(dup2)(oldfd, newfd);
}

FILEMON_EXPORT int dup3(int oldfd, int newfd, int flags) noexcept {
  if (oldfd != newfd) MoveSocketAwayFrom(newfd);
  return REAL(dup3)(oldfd, newfd, flags);
}
