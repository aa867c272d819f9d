// bmake's path rules: ignore paths, read candidates, the bailiwick, the missing list.

#include "filemon/meta/path_rules.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

class PathRulesTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TestDir>(testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_->Mkdir("obj");
    dir_->Mkdir("ign");
    dir_->Symlink("link", *dir_ / "ign");
    options_.cwd = *dir_ / "obj";
    options_.default_ignore_paths = std::vector<std::string>{};
  }
  std::unique_ptr<const CheckState> Prepare() {
    absl::StatusOr<std::unique_ptr<const CheckState>> s = PrepareCheckState(options_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  bool Ignored(const CheckState& s, const std::string& p) {
    PathCache cache(s.cwd_fd.get(), s.cwd);
    std::string real;
    return IgnorePath(s, p, &cache, &real);
  }

  std::unique_ptr<TestDir> dir_;
  CheckOptions options_;
};

TEST_F(PathRulesTest, IgnorePathsArePlainPrefixesOfTheRealpath) {
  options_.ignore_paths = {*dir_ / "ign"};
  options_.compat = Compat::k20200710;
  const std::unique_ptr<const CheckState> s = Prepare();
  EXPECT_TRUE(Ignored(*s, *dir_ / "ign/a.h"));
  EXPECT_TRUE(Ignored(*s, *dir_ / "ignored-too/a.h"));  // no '/' boundary
  EXPECT_TRUE(Ignored(*s, *dir_ / "link/a.h"));         // through the symlink
  EXPECT_FALSE(Ignored(*s, *dir_ / "obj/a.h"));
  EXPECT_FALSE(Ignored(*s, "ign/a.h"));  // relative: no path test
}

TEST_F(PathRulesTest, PatternsMatchWordsAndAnEmptyFilterResultIgnores) {
  options_.ignore_patterns = {"*.gen"};
  options_.ignore_filter = "N*.tmp";
  const std::unique_ptr<const CheckState> s = Prepare();
  EXPECT_TRUE(Ignored(*s, "a.gen"));
  EXPECT_TRUE(Ignored(*s, "/x/b.tmp"));
  EXPECT_FALSE(Ignored(*s, "/x/b.h"));
}

TEST_F(PathRulesTest, ReadCandidatesSkipRepeatsAndFollowCompatPastMaxpathlen) {
  ReadCandidates c;
  c.Build("/abs", "/l", "/c", "/w", Compat::k20260313);
  ASSERT_EQ(c.size(), 1);
  EXPECT_EQ(c[0], "/abs");
  c.Build("x.h", "/l", "/c", "/w", Compat::k20260313);
  ASSERT_EQ(c.size(), 3);
  EXPECT_EQ(c[0], "/l/x.h");
  EXPECT_EQ(c[1], "/c/x.h");
  EXPECT_EQ(c[2], "/w/x.h");
  c.Build("x.h", "/w", "/w", "/w", Compat::k20260313);
  EXPECT_EQ(c.size(), 1);
  const std::string long_dir = "/" + std::string(PATH_MAX, 'd');
  c.Build("x.h", long_dir, "/w", "/w", Compat::k20260313);  // [N] drops it
  ASSERT_EQ(c.size(), 1);
  EXPECT_EQ(c[0], "/w/x.h");
  c.Build("x.h", long_dir, "/w", "/w", Compat::k20200710);  // [D] cuts it
  ASSERT_EQ(c.size(), 2);
  EXPECT_EQ(c[0].size(), static_cast<size_t>(PATH_MAX - 1));
  EXPECT_EQ(c[1], "/w/x.h");
}

TEST_F(PathRulesTest, WritesMayBeMissingOnlyInTheBailiwickOutsideCwd) {
  const std::unique_ptr<const CheckState> none = Prepare();
  EXPECT_FALSE(WriteMayBeMissing(*none, *dir_ / "ign/out"));  // no bailiwick
  options_.bailiwick = {dir_->path()};
  const std::unique_ptr<const CheckState> s = Prepare();
  EXPECT_TRUE(WriteMayBeMissing(*s, *dir_ / "ign/out"));
  EXPECT_FALSE(WriteMayBeMissing(*s, *dir_ / "obj/out"));  // under cwd
  EXPECT_FALSE(WriteMayBeMissing(*s, "/elsewhere/out"));   // outside the bailiwick
  EXPECT_FALSE(WriteMayBeMissing(*s, "rel/out"));
}

TEST_F(PathRulesTest, ReadsAreMissingOnlyWhenAbsentAbsoluteAndOutsideCwd) {
  const std::unique_ptr<const CheckState> s = Prepare();
  EXPECT_TRUE(ReadIsMissing(*s, "/gone/x.h", ENOENT));
  EXPECT_FALSE(ReadIsMissing(*s, "/gone/x.h", EACCES));
  EXPECT_FALSE(ReadIsMissing(*s, "gone/x.h", ENOENT));
  EXPECT_FALSE(ReadIsMissing(*s, s->cwd + "x/gone.h", ENOENT));  // raw prefix of cwd
}

TEST(MissingList, KeepsFirstSeenOrderOnce) {
  MissingList missing;
  for (const char* p : {"/b", "/a", "/b", "/c", "/a"}) missing.Add(p);
  EXPECT_EQ(missing.paths(), (std::vector<std::string>{"/b", "/a", "/c"}));
}

TEST(MissingList, ClearsTheDirectoryAndBelowOnly) {
  MissingList missing;
  for (const char* p : {"/a", "/a/b", "/ab", "/c"}) missing.Add(p);
  missing.ClearUnder("/a");
  EXPECT_EQ(missing.paths(), (std::vector<std::string>{"/ab", "/c"}));
  missing.ClearUnder("c");  // relative: nothing
  EXPECT_EQ(missing.paths().size(), 2u);
  missing.Add("/a/b");  // cleared, then missing again: listed again, last
  EXPECT_EQ(missing.paths(), (std::vector<std::string>{"/ab", "/c", "/a/b"}));
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
