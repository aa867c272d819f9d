#include "filemon/backends/kernel/kernel_log_follower.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "filemon/backends/kernel/testing.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using kernel_testing::TextSink;

// A FreeBSD v5 log of `sh -c 'cat in > out; mv out done'`: header, records, footer.
constexpr char kFreeBsdRecords[] =
    "E 701 /bin/sh\n"
    "R 701 /lib/libc.so.7\n"
    "W 701 out\n"
    "F 701 702\n"
    "E 702 /bin/cat\n"
    "R 702 in\n"
    "X 702 0 0\n"
    "M 701 'out' 'done'\n"
    "X 701 0 0\n";
std::string FreeBsdLog() {
  return absl::StrCat("# filemon version 5\n# Target pid 700\n# Start 1700000000.000100\nV 5\n",
                      kFreeBsdRecords, "# Stop 1700000000.250000\n# Bye bye\n");
}

TEST(KernelLogFollower, ForwardsRecordsButNotHeaderOrFooter) {
  TextSink sink;
  KernelLogFollower follower(&sink);
  follower.Feed(FreeBsdLog());
  follower.Finish();
  EXPECT_EQ(sink.text, kFreeBsdRecords);
  EXPECT_EQ(follower.records(), 9u);
  EXPECT_EQ(follower.malformed_lines(), 0u);
}

TEST(KernelLogFollower, AnySplitOfTheBytesGivesTheSameRecords) {
  const std::string log = FreeBsdLog();
  for (size_t a = 0; a <= log.size(); ++a) {
    for (size_t b = a; b <= log.size(); b += 7) {
      SCOPED_TRACE(testing::Message() << "split at " << a << " and " << b);
      TextSink sink;
      KernelLogFollower follower(&sink);
      follower.Feed(absl::string_view(log).substr(0, a));
      follower.Feed(absl::string_view(log).substr(a, b - a));
      follower.Feed(absl::string_view(log).substr(b));
      follower.Finish();
      ASSERT_EQ(sink.text, kFreeBsdRecords);
    }
  }
}

TEST(KernelLogFollower, TracksTheLiveProcessTree) {
  TextSink sink;
  KernelLogFollower follower(&sink);
  follower.AddLive(100);
  follower.Feed("F 100 101\nF 101 102\n");
  EXPECT_EQ(follower.live().size(), 3u);
  follower.Feed("X 101 0 0\n");
  EXPECT_FALSE(follower.live().contains(101));
  EXPECT_TRUE(follower.live().contains(102)) << "an orphan is still traced";
  follower.Feed("X 102 0 15\nX 1");
  EXPECT_EQ(follower.live().size(), 1u) << "a partial line is not a record yet";
  follower.Feed("00 0 0\n");
  EXPECT_TRUE(follower.live().empty());
  follower.AddLive(7);
  follower.ForgetLive(7);
  EXPECT_TRUE(follower.live().empty());
}

TEST(KernelLogFollower, MalformedLinesAreKeptAsComments) {
  TextSink sink;
  KernelLogFollower follower(&sink);
  follower.Feed("R 1 /a\nQ 1 what\nR x /b\nW 1 /c\n");
  follower.Finish();
  EXPECT_EQ(follower.malformed_lines(), 2u);
  EXPECT_EQ(sink.text,
            "R 1 /a\n"
            "# filemon: malformed kernel record: Q 1 what\n"
            "# filemon: malformed kernel record: R x /b\n"
            "W 1 /c\n");
}

TEST(KernelLogFollower, LastLineWithoutNewlineIsForwardedAtFinish) {
  TextSink sink;
  KernelLogFollower follower(&sink);
  follower.Feed("R 1 /a\nW 1 /trunc");
  EXPECT_EQ(sink.text, "R 1 /a\n");
  follower.Finish();
  EXPECT_EQ(sink.text, "R 1 /a\nW 1 /trunc\n");
}

TEST(KernelLogFollower, NetBsdAndTwoPathRecords) {
  // filemon-format.md 4(b), NetBSD v4: two-field X, quoted M paths, "# Bye bye" mid-log.
  TextSink sink;
  KernelLogFollower follower(&sink);
  follower.Feed(
      "# filemon version 4\n# Target pid 24291\nV 4\nE 29676 /bin/sh\nF 29676 4899\n"
      "X 4899 0\nW 29676 foo.h.new\nX 29676 0\n# Bye bye\nM 576 'foo.h.new' 'foo.h'\n");
  follower.Finish();
  EXPECT_EQ(sink.text,
            "E 29676 /bin/sh\nF 29676 4899\nX 4899 0\nW 29676 foo.h.new\nX 29676 0\n"
            "M 576 'foo.h.new' 'foo.h'\n");
}

}  // namespace
}  // namespace filemon
