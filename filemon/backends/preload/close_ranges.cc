#include "filemon/backends/preload/close_ranges.h"

#include <initializer_list>

namespace filemon {
namespace preload_internal {

CloseRanges RangesSparing(unsigned first, unsigned last, const int (&ours)[2]) {
  CloseRanges out{};
  const int low = ours[0] < ours[1] ? ours[0] : ours[1];
  const int high = ours[0] < ours[1] ? ours[1] : ours[0];
  unsigned from = first;
  for (int fd : {low, high}) {
    if (fd < 0 || static_cast<unsigned>(fd) < from || static_cast<unsigned>(fd) > last) continue;
    if (static_cast<unsigned>(fd) > from) {
      out.ranges[out.count++] = FdRange{from, static_cast<unsigned>(fd) - 1};
    }
    if (static_cast<unsigned>(fd) == last) return out;
    from = static_cast<unsigned>(fd) + 1;
  }
  out.ranges[out.count++] = FdRange{from, last};
  return out;
}

CloseRanges ClosefromRanges(int lowfd, const int (&ours)[2]) {
  return RangesSparing(lowfd < 0 ? 0u : static_cast<unsigned>(lowfd), ~0U, ours);
}

}  // namespace preload_internal
}  // namespace filemon
