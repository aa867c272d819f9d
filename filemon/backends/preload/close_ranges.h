// File: filemon/backends/preload/close_ranges.h
//
// How close_range(2) and closefrom(3) spare the interposer's two descriptors (the socket and
// the pipe to the supervisor, channel.h): the range the program asked for, cut around them
// into at most three ranges.
//
// libc-only, async-signal-safe, allocates nothing.
//
// Example:
//   const CloseRanges r = RangesSparing(3, ~0U, {g_fd, g_pipe});
//   for (size_t i = 0; i < r.count; ++i) real_close_range(r.ranges[i].first, ...);

#ifndef FILEMON_BACKENDS_PRELOAD_CLOSE_RANGES_H_
#define FILEMON_BACKENDS_PRELOAD_CLOSE_RANGES_H_

#include <cstddef>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

struct FdRange {
  unsigned first;
  unsigned last;
};

struct CloseRanges {
  FdRange ranges[3];
  size_t count;  // 0: every descriptor of the range is ours
};

// [first, last] without the descriptors of `ours` (-1: none), in increasing order. A range
// with `first` > `last` is kept as it is, for the kernel to refuse (EINVAL).
CloseRanges RangesSparing(unsigned first, unsigned last, const int (&ours)[2]);

// What closefrom(`lowfd`) closes, without `ours`: from `lowfd` (0 when negative, as glibc
// takes it) to the highest descriptor. The last range ends at ~0U.
CloseRanges ClosefromRanges(int lowfd, const int (&ours)[2]);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_CLOSE_RANGES_H_
