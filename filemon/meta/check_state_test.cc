// The options as they are prepared once for every check.

#include "filemon/meta/check_state.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

TEST(PrepareCheckState, ResolvesCwdAndDefaultsCurdir) {
  TestDir dir("ResolvesCwd");
  dir.Mkdir("obj");
  dir.Symlink("o", dir / "obj");
  CheckOptions options;
  options.cwd = dir / "o";
  absl::StatusOr<std::unique_ptr<const CheckState>> s = PrepareCheckState(options);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->cwd, RealpathOrSelf(dir / "obj"));
  EXPECT_EQ((*s)->options.curdir, dir / "o");
  EXPECT_TRUE((*s)->cwd_fd.valid());
}

TEST(PrepareCheckState, ErrorsNameTheirOption) {
  CheckOptions options;
  options.cwd = "/no/such/dir";
  absl::StatusOr<std::unique_ptr<const CheckState>> s = PrepareCheckState(options);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "/no/such/dir")) << s.status();
  options.cwd = "/";
  options.ignore_filter = "!date!";
  s = PrepareCheckState(options);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "IGNORE_FILTER: ")) << s.status();
  options.ignore_filter.clear();
  options.cmp_filter = "S,a,b,";
  options.compat = Compat::k20200710;
  s = PrepareCheckState(options);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "CMP_FILTER needs compat 20260313"));
}

TEST(PrepareCheckState, DefaultIgnorePathsAndTmpdir) {
  CheckOptions options;
  options.cwd = "/";
  options.tmpdir_env = "/no/such/tmpdir";
  absl::StatusOr<std::unique_ptr<const CheckState>> s = PrepareCheckState(options);
  ASSERT_TRUE(s.ok()) << s.status();
  const std::vector<std::string>& ignore = (*s)->ignore_paths;
  for (const char* d : {"/dev", "/etc", "/proc", "/no/such/tmpdir"}) {
    EXPECT_NE(std::find(ignore.begin(), ignore.end(), RealpathOrSelf(d)), ignore.end()) << d;
  }
  EXPECT_EQ((*s)->tmpdir, "/tmp/");  // TMPDIR is not a directory: bmake's /tmp/
  options.default_ignore_paths = std::vector<std::string>{};
  options.tmpdir_env.clear();
  s = PrepareCheckState(options);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->ignore_paths.empty());
}

TEST(TargetTime, WholeSecondsUnlessNanosecondsAreGiven) {
  StatResult st;
  st.mtime = 100;
  st.mtime_nsec = 500;
  EXPECT_FALSE((TargetTime{100, -1}.OlderThan(st)));
  EXPECT_TRUE((TargetTime{99, -1}.OlderThan(st)));
  EXPECT_TRUE((TargetTime{100, 400}.OlderThan(st)));
  EXPECT_FALSE((TargetTime{100, 500}.OlderThan(st)));
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
