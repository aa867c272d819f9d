// The decision built line by line: bmake's messages in both compats, the first reason wins,
// and the lines reasons are recorded with.

#include "filemon/meta/verdict.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

TEST(Verdict, PrefixFollowsCompat) {
  Decision d;
  Verdict old(&d, "/o/foo.meta", Compat::k20200710);
  old.set_line(7);
  old.Malformed();
  Decision n;
  Verdict now(&n, "/o/foo.meta", Compat::k20260313);
  now.set_line(7);
  now.Malformed();
  EXPECT_EQ(d.messages, std::vector<std::string>{"/o/foo.meta: 7: malformed"});
  EXPECT_EQ(n.messages, std::vector<std::string>{"/o/foo.meta:7: malformed"});
}

TEST(Verdict, FirstReasonWinsAndLaterMessagesAreKept) {
  Decision d;
  Verdict v(&d, "/o/foo.meta", Compat::k20260313);
  v.set_line(3);
  v.Newer("/s/a.h");
  v.set_line(4);
  v.Newer("/s/b.h");
  v.MissingFiles("/gone");
  EXPECT_TRUE(v.out_of_date());
  EXPECT_EQ(d.reason, Reason::kNewer);
  EXPECT_EQ(d.line, 3u);
  EXPECT_EQ(d.path, "/s/a.h");
  EXPECT_EQ(d.messages, (std::vector<std::string>{
                            "/o/foo.meta:3: file '/s/a.h' is newer than the target...",
                            "/o/foo.meta:4: file '/s/b.h' is newer than the target...",
                            "/o/foo.meta: missing files: /gone...",
                        }));
}

TEST(Verdict, ReasonsAfterTheLoopHaveNoLine) {
  Decision d;
  Verdict v(&d, "/o/foo.meta", Compat::k20200710);
  v.set_line(12);
  v.MissingFiles("/gone/x.h");
  EXPECT_EQ(d.reason, Reason::kMissingFiles);
  EXPECT_EQ(d.line, 0u);
  EXPECT_EQ(d.path, "/gone/x.h");
  Decision f;
  Verdict w(&f, "/o/foo.meta", Compat::k20200710);
  w.set_line(12);
  w.MissingFilemon();
  EXPECT_EQ(f.reason, Reason::kMissingFilemon);
  EXPECT_EQ(f.line, 0u);
  EXPECT_EQ(f.messages, std::vector<std::string>{"/o/foo.meta: missing filemon data"});
}

TEST(Verdict, CommandChangeUnderIgnoreCmdIsOnlyAMessage) {
  Decision d;
  Verdict v(&d, "/o/foo.meta", Compat::k20260313);
  v.set_line(2);
  v.CmdChanged("cc -O1", "cc -O2", Verdict::CmdChange::kMessageOnly);
  EXPECT_FALSE(v.out_of_date());
  EXPECT_EQ(d.messages, std::vector<std::string>{
                            "/o/foo.meta:2: a build command has changed\ncc -O1\nvs\ncc -O2"});
  v.CmdChanged("cc -O1", "cc -O2", Verdict::CmdChange::kOutOfDate);
  EXPECT_EQ(d.reason, Reason::kCmdChanged);
  EXPECT_EQ(d.old_command, "cc -O1");
  EXPECT_EQ(d.new_command, "cc -O2");
}

TEST(Verdict, AppearedNamesTheProbeLine) {
  Decision d;
  Verdict v(&d, "/o/foo.meta", Compat::k20260313);
  v.set_line(40);
  v.Appeared(9, "/s/inc/x.h");
  EXPECT_EQ(d.reason, Reason::kAppeared);
  EXPECT_EQ(d.line, 9u);
  EXPECT_EQ(d.messages, std::vector<std::string>{
                            "/o/foo.meta:9: file '/s/inc/x.h' did not exist when the target was "
                            "built, and now does"});
}

TEST(Verdict, ReadLineCountsLinesAndTruncatedEndsTheCheck) {
  Decision d;
  Verdict v(&d, "/o/foo.meta", Compat::k20200710);
  LineReader reader("a\nbc");
  MetaLine line;
  ASSERT_TRUE(v.ReadLine(&reader, &line));
  EXPECT_FALSE(v.Truncated(line));
  ASSERT_TRUE(v.ReadLine(&reader, &line));
  EXPECT_EQ(v.line(), 2u);
  EXPECT_TRUE(v.Truncated(line));
  EXPECT_FALSE(v.ReadLine(&reader, &line));
  EXPECT_EQ(v.line(), 2u);
  EXPECT_EQ(d.reason, Reason::kTruncated);
  EXPECT_EQ(d.line, 2u);
  EXPECT_EQ(d.messages, std::vector<std::string>{"/o/foo.meta: 2: line truncated at 2"});
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
