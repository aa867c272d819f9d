#include "filemon/backends/path_rules.h"

#include <fcntl.h>

#include <string>
#include <vector>

#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace path_rules {
namespace {

std::string Joined(absl::string_view dir, absl::string_view path) {
  char buffer[64];
  Text out(buffer, sizeof(buffer));
  AppendJoined(dir, path, &out);
  return std::string(out.view());
}

TEST(AppendJoinedTest, FollowsTheDecodersRules) {
  EXPECT_EQ(Joined("/src", "a.c"), "/src/a.c");
  EXPECT_EQ(Joined("/src", "././a.c"), "/src/a.c");
  EXPECT_EQ(Joined("/src", "."), "/src");
  EXPECT_EQ(Joined("/src", ""), "/src");
  EXPECT_EQ(Joined("/", "a.c"), "/a.c");
  EXPECT_EQ(Joined("/", "."), "/");
  EXPECT_EQ(Joined("/src", "../a.c"), "/src/../a.c");
}

TEST(TextTest, OverflowIsRememberedNotWritten) {
  char buffer[4];
  Text out(buffer, sizeof(buffer));
  out.Append("abcdef");
  EXPECT_TRUE(out.overflow());
  EXPECT_EQ(out.view(), "abcd");
}

std::vector<std::string> Lines(uint64_t flags, OpenClue clue) {
  testing_internal::CollectingSink sink;
  AddOpenRecords(&sink, 7, flags, "a.c", "/src/a.c", clue);
  std::vector<std::string> lines;
  for (const auto& r : sink.records()) lines.push_back(r.ToString());
  return lines;
}

TEST(AddOpenRecordsTest, AccessModeChoosesTheLetters) {
  EXPECT_EQ(Lines(O_RDONLY, OpenClue::kNone), std::vector<std::string>{"R 7 /src/a.c"});
  EXPECT_EQ(Lines(O_WRONLY | O_CREAT, OpenClue::kNone), std::vector<std::string>{"W 7 /src/a.c"});
  EXPECT_EQ(Lines(O_RDWR, OpenClue::kAt),
            (std::vector<std::string>{"A 7 a.c", "R 7 /src/a.c", "W 7 /src/a.c"}));
}

// One N per process and path: a second probe of the path by the same pid is not new, another
// pid's is, and a pid that exited (its number reused) starts afresh.
TEST(ProbeMemoryTest, OncePerProcessAndPathUntilItExits) {
  ProbeMemory probes;
  EXPECT_TRUE(probes.First(7, "inc1/a.h"));
  EXPECT_TRUE(probes.Seen(7, "inc1/a.h"));
  EXPECT_FALSE(probes.First(7, "inc1/a.h"));
  EXPECT_FALSE(probes.Seen(8, "inc1/a.h"));
  EXPECT_TRUE(probes.First(8, "inc1/a.h"));
  EXPECT_TRUE(probes.First(7, "inc2/a.h"));
  probes.Forget(7);
  EXPECT_FALSE(probes.Seen(7, "inc1/a.h"));
  EXPECT_TRUE(probes.First(7, "inc1/a.h"));
  EXPECT_FALSE(probes.First(8, "inc1/a.h"));
}

}  // namespace
}  // namespace path_rules
}  // namespace filemon
