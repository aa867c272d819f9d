#include "filemon/backends/preload/user_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// Two pages: the first readable and writable, the second PROT_NONE.
class UserMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* map =
        mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    base_ = static_cast<char*>(map);
    ASSERT_EQ(mprotect(bad(), page_, PROT_NONE), 0);
  }
  void TearDown() override { munmap(base_, 2 * page_); }

  char* bad() const { return base_ + page_; }
  // `n` bytes before the unreadable page.
  char* Tail(size_t n) const { return bad() - n; }

  size_t page_ = 0;
  char* base_ = nullptr;
};

TEST_F(UserMemoryTest, AStringEndingBeforeTheBadPageIsReadable) {
  std::memcpy(Tail(3), "ab", 3);
  EXPECT_TRUE(ReadableString(Tail(3)));
}

TEST_F(UserMemoryTest, AStringRunningIntoTheBadPageIsNot) {
  std::memcpy(Tail(2), "ab", 2);  // no NUL before the page ends
  EXPECT_FALSE(ReadableString(Tail(2)));
  EXPECT_FALSE(ReadableString(bad()));
  EXPECT_FALSE(ReadableString(nullptr));
}

TEST_F(UserMemoryTest, AStringAcrossReadablePagesIsReadable) {
  ASSERT_EQ(mprotect(bad(), page_, PROT_READ | PROT_WRITE), 0);
  std::memset(base_, 'x', page_ + 10);
  bad()[10] = '\0';
  EXPECT_TRUE(ReadableString(base_ + 5));
}

TEST_F(UserMemoryTest, ArraysAreCheckedToTheirNull) {
  char ok[] = "A=1";
  char* good[] = {ok, ok, nullptr};
  EXPECT_TRUE(ReadableStrings(good));
  EXPECT_TRUE(ReadableArray(good));
  EXPECT_TRUE(ReadableStrings(nullptr));  // the kernel's empty environment
  char* bad_string[] = {ok, bad(), nullptr};
  EXPECT_FALSE(ReadableStrings(bad_string));
  EXPECT_TRUE(ReadableArray(bad_string));  // the pointers alone are readable
  EXPECT_FALSE(ReadableStrings(reinterpret_cast<char* const*>(bad())));
  EXPECT_FALSE(ReadableArray(reinterpret_cast<char* const*>(bad())));
  // An array whose null would lie in the bad page.
  char** tail = reinterpret_cast<char**>(Tail(sizeof(char*)));
  tail[0] = ok;
  EXPECT_FALSE(ReadableArray(tail));
  EXPECT_FALSE(ReadableStrings(reinterpret_cast<char* const*>(UINTPTR_MAX - 3)));
}

TEST_F(UserMemoryTest, CopyReadableCopiesAllOrSaysNo) {
  std::memcpy(Tail(8), "12345678", 8);
  char out[16] = {};
  EXPECT_TRUE(CopyReadable(out, Tail(8), 8));
  EXPECT_EQ(std::memcmp(out, "12345678", 8), 0);
  EXPECT_FALSE(CopyReadable(out, Tail(8), 16));
  EXPECT_FALSE(CopyReadable(out, bad(), 8));
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
