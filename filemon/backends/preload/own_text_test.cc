#include "filemon/backends/preload/own_text.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// How many pages of [start, start + size) have a page-table entry in this process
// (/proc/self/pagemap bit 63); -1 if pagemap cannot be read.
long PresentPages(uintptr_t start, size_t size) {
  const int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const long page = sysconf(_SC_PAGESIZE);
  long present = 0;
  for (uintptr_t p = start; p < start + size; p += page) {
    uint64_t entry = 0;
    if (pread(fd, &entry, sizeof entry, static_cast<off_t>(p / page * sizeof entry)) !=
        sizeof entry) {
      close(fd);
      return -1;
    }
    present += (entry >> 63) & 1;
  }
  close(fd);
  return present;
}

TEST(OwnText, IsTheSegmentThatHoldsThisCode) {
  const TextRange range = OwnTextRange();
  ASSERT_GT(range.size, 0u);
  EXPECT_EQ(range.start % sysconf(_SC_PAGESIZE), 0u);
  EXPECT_EQ(range.size % sysconf(_SC_PAGESIZE), 0u);
  for (uintptr_t code : {reinterpret_cast<uintptr_t>(&OwnTextRange),
                         reinterpret_cast<uintptr_t>(&PrefaultOwnText)}) {
    EXPECT_GE(code, range.start);
    EXPECT_LT(code, range.start + range.size);
  }
}

// The test binary's text (megabytes, mostly never run) is mapped page by page as it runs;
// afterwards every page of it has an entry, without a fault each.
TEST(OwnText, PrefaultMapsEveryPage) {
  const TextRange range = OwnTextRange();
  ASSERT_GT(range.size, 0u);
  const long result = PrefaultOwnText();
  if (result == -EINVAL) GTEST_SKIP() << "the kernel has no MADV_POPULATE_READ (Linux < 5.14)";
  ASSERT_EQ(result, 0);
  const long present = PresentPages(range.start, range.size);
  if (present < 0) GTEST_SKIP() << "cannot read /proc/self/pagemap";
  EXPECT_EQ(present, static_cast<long>(range.size / sysconf(_SC_PAGESIZE)));
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
