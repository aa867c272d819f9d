// close_range and closefrom around the interposer's descriptors (close_ranges.h).

#include "filemon/backends/preload/close_ranges.h"

#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

std::string Show(const CloseRanges& r) {
  std::string s;
  for (size_t i = 0; i < r.count; ++i) {
    if (!s.empty()) s += " ";
    s += std::to_string(r.ranges[i].first) + "-" +
         (r.ranges[i].last == ~0U ? std::string("max") : std::to_string(r.ranges[i].last));
  }
  return s;
}

TEST(CloseRanges, RangeIsCutAroundOurDescriptors) {
  struct Case {
    unsigned first, last;
    int a, b;
    const char* expected;
  };
  const Case kCases[] = {
      {3, 100, 10, 20, "3-9 11-19 21-100"},
      {3, 100, 20, 10, "3-9 11-19 21-100"},  // either order
      {3, 100, -1, 10, "3-9 11-100"},        // no pipe
      {3, 100, -1, -1, "3-100"},             // inactive
      {3, 100, 3, 4, "5-100"},               // ours first
      {3, 100, 99, 100, "3-98"},             // ours last
      {10, 10, 10, 20, ""},                  // only ours
      {10, 20, 10, 20, "11-19"},
      {3, 100, 1, 200, "3-100"},  // ours outside
      {3, ~0U, 900, 901, "3-899 902-max"},
      {50, 10, 20, 30, "50-10"},  // first > last: the kernel's EINVAL
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::to_string(c.first) + ".." + std::to_string(c.last));
    EXPECT_EQ(Show(RangesSparing(c.first, c.last, {c.a, c.b})), c.expected);
  }
}

TEST(CloseRanges, ClosefromEndsAtTheHighestDescriptor) {
  EXPECT_EQ(Show(ClosefromRanges(3, {900, 5})), "3-4 6-899 901-max");
  EXPECT_EQ(Show(ClosefromRanges(3, {-1, -1})), "3-max");
  EXPECT_EQ(Show(ClosefromRanges(901, {900, 5})), "901-max");
}

TEST(CloseRanges, ClosefromOfANegativeDescriptorClosesFromZero) {
  // glibc's closefrom takes a negative lowfd as 0.
  EXPECT_EQ(Show(ClosefromRanges(-1, {900, -1})), "0-899 901-max");
  EXPECT_EQ(Show(ClosefromRanges(-5, {0, 1})), "2-max");
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
