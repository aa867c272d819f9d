// CheckOptions::probes: the `N` records (absent-path probes) of a .meta, beyond bmake.

#include <string>

#include "absl/strings/str_cat.h"
#include "filemon/meta/checker.h"
#include "filemon/meta/probe_set.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

constexpr time_t kT0 = 1600000000;

class ProbesTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TestDir>(testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_->Write("d/foo", "o", kT0 + 10);
    dir_->Write("d/inc2/same.h", "x", kT0);
    options_.cwd = *dir_ / "d";
    options_.target = "foo";
  }
  std::string D() const { return *dir_ / "d"; }
  // A .meta of one process (pid 1, cwd D()) with `records` in its filemon section.
  void WriteMeta(const std::string& records) const {
    dir_->Write("d/foo.meta",
                absl::StrCat("# Meta data file ", D(), "/foo.meta\nCMD cc -c foo.c\nCWD ", D(),
                             "\nTARGET foo\n-- command output --\n\n-- filemon acquired "
                             "metadata --\n# filemon version 5\nV 5\n",
                             records, "X 1 0 0\n# Bye bye\n"));
  }
  Decision Check(bool probes, int threads = 1) {
    CheckOptions options = options_;
    options.probes = probes;
    absl::StatusOr<Checker> checker = Checker::Create(options);
    EXPECT_TRUE(checker.ok()) << checker.status();
    absl::StatusOr<Decision> d = checker->CheckFileWith(*dir_ / "d/foo.meta", threads);
    EXPECT_TRUE(d.ok()) << d.status();
    return *d;
  }

  std::unique_ptr<TestDir> dir_;
  CheckOptions options_;
};

TEST_F(ProbesTest, AProbedPathThatExistsNowHasAppeared) {
  WriteMeta("N 1 inc1/same.h\nR 1 inc2/same.h\n");
  EXPECT_FALSE(Check(true).out_of_date);   // inc1/same.h still absent
  dir_->Write("d/inc1/same.h", "y", kT0);  // older than the target: no R would notice it
  Decision d = Check(true);
  EXPECT_TRUE(d.out_of_date);
  EXPECT_EQ(d.reason, Reason::kAppeared);
  EXPECT_EQ(ReasonCode(d.reason), "appeared");
  EXPECT_EQ(d.line, 10u);
  EXPECT_EQ(d.path, D() + "/inc1/same.h");
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0], absl::StrCat(D(), "/foo.meta:10: file '", D(),
                                        "/inc1/same.h' did not exist when the target was built, "
                                        "and now does"));
  // bmake's way (no probes): N is skipped.
  EXPECT_FALSE(Check(false).out_of_date);
  options_.compat = Compat::k20200710;
  EXPECT_EQ(Check(true).messages[0].substr(0, D().size() + 15), D() + "/foo.meta: 10: ");
}

TEST_F(ProbesTest, RelativeProbesResolveInTheProcessCwd) {
  dir_->Write("d/sub/inc1/same.h", "y", kT0);
  WriteMeta(absl::StrCat("C 1 ", D(), "/sub\nN 1 inc1/same.h\nF 1 2\nN 2 ../gone\n"));
  Decision d = Check(true);
  EXPECT_EQ(d.reason, Reason::kAppeared);
  EXPECT_EQ(d.path, D() + "/sub/inc1/same.h");
  dir_->Write("d/gone", "y", kT0);  // the child's ../gone, from the cwd it inherited
  WriteMeta(absl::StrCat("C 1 ", D(), "/sub\nF 1 2\nN 2 ../gone\n"));
  d = Check(true);
  EXPECT_EQ(d.reason, Reason::kAppeared);
  EXPECT_EQ(d.path, D() + "/gone");
}

TEST_F(ProbesTest, TheBuildsOwnLaterWriteExplainsAProbe) {
  dir_->Write("d/gen.h", "y", kT0);
  dir_->Write("d/moved.h", "y", kT0);
  dir_->Write("d/linked.h", "y", kT0);
  WriteMeta(
      "N 1 gen.h\nW 1 gen.h\nN 1 moved.h\nM 1 'tmp.h' 'moved.h'\nN 1 linked.h\n"
      "L 1 'gen.h' 'linked.h'\n");
  EXPECT_FALSE(Check(true).out_of_date);
  // A write before the probe explains nothing: the probe still failed after it.
  WriteMeta("W 1 gen.h\nD 1 gen.h\nN 1 gen.h\n");
  EXPECT_EQ(Check(true).reason, Reason::kAppeared);
}

TEST_F(ProbesTest, IgnorePathsAndPatternsApplyAsToReads) {
  dir_->Write("d/inc1/same.h", "y", kT0);
  WriteMeta("N 1 /etc/ld.so.preload\nN 1 inc1/same.h\n");
  options_.ignore_patterns = {"*/inc1/*"};
  EXPECT_FALSE(Check(true).out_of_date);  // /etc by default, inc1 by the pattern
  options_.ignore_patterns.clear();
  options_.ignore_paths = {D() + "/inc1"};
  EXPECT_FALSE(Check(true).out_of_date);
  options_.ignore_paths.clear();
  options_.ignore_filter = "N*/same.h";
  EXPECT_FALSE(Check(true).out_of_date);
}

TEST_F(ProbesTest, BmakesOwnReasonsComeFirst) {
  dir_->Write("d/inc1/same.h", "y", kT0);
  dir_->Write("d/new.h", "y", kT0 + 20);
  WriteMeta("N 1 inc1/same.h\nR 1 new.h\n");
  EXPECT_EQ(Check(true).reason, Reason::kNewer);
}

TEST_F(ProbesTest, ManyThreadsGiveTheOneThreadDecision) {
  dir_->Write("d/inc1/same.h", "y", kT0);
  std::string records;
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&records, "R 1 ", D(), "/inc2/same.h\n");
  absl::StrAppend(&records, "N 1 inc1/same.h\n");
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&records, "R 1 ", D(), "/inc2/same.h\n");
  WriteMeta(records);
  options_.parallel.min_bytes = 1024;
  options_.parallel.chunk_bytes = 4096;
  Decision one = Check(true, 1), many = Check(true, 4);
  EXPECT_EQ(one.reason, Reason::kAppeared);
  EXPECT_EQ(many.reason, one.reason);
  EXPECT_EQ(many.line, one.line);
  EXPECT_EQ(many.messages, one.messages);
}

TEST(ProbeSet, KeepsTheFirstLineAndReopensAfterAnExplainingWrite) {
  internal::ProbeSet s;
  s.Probe("/a", 3);
  s.Probe("/b", 4);
  s.Probe("/a", 5);
  s.Wrote("/b");
  ASSERT_EQ(s.Unexplained().size(), 1u);
  EXPECT_EQ(s.Unexplained()[0].line, 3u);
  s.Probe("/b", 9);
  ASSERT_EQ(s.Unexplained().size(), 2u);
  EXPECT_EQ(s.Unexplained()[1].path, "/b");
  EXPECT_EQ(s.Unexplained()[1].line, 9u);
}

}  // namespace
}  // namespace meta
}  // namespace filemon
