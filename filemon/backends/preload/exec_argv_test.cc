// The argument vectors the exec and spawn wrappers build (exec_argv.h).

#include "filemon/backends/preload/exec_argv.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// `n` arguments "a0".."a<n-1>" and the null, as an exec's argv.
class Argv {
 public:
  explicit Argv(size_t n) {
    for (size_t i = 0; i < n; ++i) strings_.push_back("a" + std::to_string(i));
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// The entries of `argv` up to its null; fails the test if there is none within kMaxArgs.
std::vector<std::string> Entries(const char* const* argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < kMaxArgs; ++i) {
    if (argv[i] == nullptr) return out;
    out.push_back(argv[i]);
  }
  ADD_FAILURE() << "no null within kMaxArgs entries";
  return out;
}

TEST(HelperArgv, HelperThenProgramThenItsArguments) {
  Argv argv(3);
  const char* out[kMaxArgs];
  ASSERT_TRUE(BuildHelperArgv("/lib/helper", "/bin/static", argv.get(), out));
  EXPECT_EQ(Entries(out),
            (std::vector<std::string>{"/lib/helper", "/bin/static", "--", "a0", "a1", "a2"}));
}

TEST(HelperArgv, NullArgvGivesNoArguments) {
  const char* out[kMaxArgs];
  ASSERT_TRUE(BuildHelperArgv("/lib/helper", "/bin/static", nullptr, out));
  EXPECT_EQ(Entries(out), (std::vector<std::string>{"/lib/helper", "/bin/static", "--"}));
}

TEST(HelperArgv, LongestArgvThatFitsAndOneMore) {
  Argv fits(kMaxArgs - 4);  // three entries of ours and the null
  Argv too_long(kMaxArgs - 3);
  EXPECT_TRUE(HelperArgvFits(fits.get()));
  EXPECT_FALSE(HelperArgvFits(too_long.get()));
  const char* out[kMaxArgs];
  ASSERT_TRUE(BuildHelperArgv("h", "p", fits.get(), out));
  EXPECT_EQ(out[kMaxArgs - 2], std::string("a" + std::to_string(kMaxArgs - 5)));
  EXPECT_EQ(out[kMaxArgs - 1], nullptr);
  out[0] = "untouched";
  EXPECT_FALSE(BuildHelperArgv("h", "p", too_long.get(), out));
  EXPECT_STREQ(out[0], "untouched");
}

TEST(ShellArgv, ShellReplacesArgvZeroAndKeepsTheRest) {
  Argv argv(3);
  const char* out[kMaxArgs];
  ASSERT_TRUE(BuildShellArgv("./script", argv.get(), out));
  EXPECT_EQ(Entries(out), (std::vector<std::string>{"/bin/sh", "./script", "a1", "a2"}));
}

TEST(ShellArgv, EmptyArgvStillNamesTheScript) {
  Argv argv(0);
  const char* out[kMaxArgs];
  ASSERT_TRUE(BuildShellArgv("./script", argv.get(), out));
  EXPECT_EQ(Entries(out), (std::vector<std::string>{"/bin/sh", "./script"}));
  ASSERT_TRUE(BuildShellArgv("./script", nullptr, out));
  EXPECT_EQ(Entries(out), (std::vector<std::string>{"/bin/sh", "./script"}));
}

TEST(ShellArgv, LongestArgvThatFitsAndOneMore) {
  Argv fits(kMaxArgs - 2);  // argv[0] replaced by two entries, and the null
  Argv too_long(kMaxArgs - 1);
  const char* out[kMaxArgs];
  ASSERT_TRUE(BuildShellArgv("s", fits.get(), out));
  EXPECT_EQ(out[kMaxArgs - 1], nullptr);
  EXPECT_EQ(Entries(out).size(), kMaxArgs - 1);
  EXPECT_FALSE(BuildShellArgv("s", too_long.get(), out));
}

bool IsMapped(const void* address) {
  const long page = sysconf(_SC_PAGESIZE);
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(address) & ~(page - 1));
  unsigned char resident;
  return mincore(start, static_cast<size_t>(page), &resident) == 0 || errno != ENOMEM;
}

TEST(ListArgs, ShortListLivesInTheObject) {
  ListArgs list(kListArgsOnStack - 1);
  ASSERT_NE(list.args(), nullptr);
  const char* begin = reinterpret_cast<const char*>(&list);
  const char* room = reinterpret_cast<const char*>(list.args());
  EXPECT_GE(room, begin);
  EXPECT_LT(room, begin + sizeof(list));
}

TEST(ListArgs, LongListGetsPagesOfItsOwnUntilDestroyed) {
  const size_t count = 100000;
  const char** room = nullptr;
  {
    ListArgs list(count);
    room = list.args();
    ASSERT_NE(room, nullptr);
    const char* begin = reinterpret_cast<const char*>(&list);
    EXPECT_FALSE(reinterpret_cast<const char*>(room) >= begin &&
                 reinterpret_cast<const char*>(room) < begin + sizeof(list));
    room[0] = "first";
    room[count] = nullptr;  // the last entry is writable
    EXPECT_TRUE(IsMapped(room + count));
  }
  EXPECT_FALSE(IsMapped(room));
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
