#include "filemon/backends/kernel/kernel_log_follower.h"

#include <string>

#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

// Formats every record it gets, as the writer would.
class TextSink : public RecordSink {
 public:
  void Add(const Record& record) override { AppendRecord(record, &text); }
  std::string text;
};

// filemon-format.md 4(a): FreeBSD v5, the output of ruby-filemon's `bin/filemon sleep 1`.
constexpr char kFreeBsdLog[] =
    "# filemon version 5\n"
    "# Target pid 53942\n"
    "# Start 1497269126.786684\n"
    "V 5\n"
    "E 65204 /bin/sleep\n"
    "R 65204 /etc/libmap.conf\n"
    "R 65204 /usr/local/etc/libmap.d\n"
    "R 65204 /var/run/ld-elf.so.hints\n"
    "R 65204 /lib/libc.so.7\n"
    "X 65204 0 0\n"
    "# Stop 1497269127.857683\n"
    "# Bye bye\n";

constexpr char kFreeBsdRecords[] =
    "E 65204 /bin/sleep\n"
    "R 65204 /etc/libmap.conf\n"
    "R 65204 /usr/local/etc/libmap.d\n"
    "R 65204 /var/run/ld-elf.so.hints\n"
    "R 65204 /lib/libc.so.7\n"
    "X 65204 0 0\n";

TEST(KernelLogFollower, ForwardsRecordsButNotHeaderOrFooter) {
  TextSink sink;
  KernelLogFollower follower(&sink);
  follower.Feed(kFreeBsdLog);
  follower.Finish();
  EXPECT_EQ(sink.text, kFreeBsdRecords);
  EXPECT_EQ(follower.records(), 6u);
  EXPECT_EQ(follower.malformed_lines(), 0u);
}

TEST(KernelLogFollower, AnySplitOfTheBytesGivesTheSameRecords) {
  const std::string log = kFreeBsdLog;
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
