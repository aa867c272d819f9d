// The path rules of the interposer's records (path_rule.h) on real directory descriptors: the
// prefix a dirfd gives, the join with the current directory, and buffers too small.

#include "filemon/backends/preload/path_rule.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

class PathRuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string base = std::string(tmp != nullptr ? tmp : "/tmp") + "/path_rule_XXXXXX";
    ASSERT_NE(mkdtemp(&base[0]), nullptr);
    char real[PATH_MAX];
    ASSERT_NE(realpath(base.c_str(), real), nullptr);
    dir_ = real;
    dirfd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dirfd_, 0);
    char cwd[PATH_MAX];
    ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
    cwd_ = cwd;
  }
  void TearDown() override { close(dirfd_); }

  // The path `rule` writes, or "<overflow>".
  static std::string Written(int dirfd, const char* path, PathRule rule, bool absolute = false,
                             size_t capacity = 4096) {
    std::string buffer(capacity, '\0');
    ByteAppender out(&buffer[0], capacity);
    PathOptions options;
    options.absolute = absolute;
    const size_t n = AppendPath(out, dirfd, path, rule, options);
    if (out.overflow()) return "<overflow>";
    EXPECT_EQ(n, out.size());
    return std::string(out.data(), out.size());
  }

  std::string dir_;
  std::string cwd_;
  int dirfd_ = -1;
};

TEST_F(PathRuleTest, AsPassedWithoutADirfd) {
  EXPECT_EQ(Written(AT_FDCWD, "rel/f", PathRule::kAsPassed), "rel/f");
  EXPECT_EQ(Written(AT_FDCWD, "./f", PathRule::kAsPassed), "./f");
  EXPECT_EQ(Written(dirfd_, "/abs/f", PathRule::kAsPassed), "/abs/f");
}

TEST_F(PathRuleTest, RelativeToADirfdGetsTheDirectory) {
  EXPECT_EQ(Written(dirfd_, "f", PathRule::kAsPassed), dir_ + "/f");
  EXPECT_EQ(Written(dirfd_, "./f", PathRule::kAsPassed), dir_ + "/f");
  EXPECT_EQ(Written(dirfd_, "././sub/f", PathRule::kAsPassed), dir_ + "/sub/f");
  EXPECT_EQ(Written(dirfd_, ".", PathRule::kAsPassed), dir_);
  EXPECT_EQ(Written(dirfd_, "", PathRule::kAsPassed), dir_);
  EXPECT_EQ(Written(dirfd_, "../x", PathRule::kAsPassed), dir_ + "/../x");
}

TEST_F(PathRuleTest, RootDirectoryIsNotDoubled) {
  const int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  EXPECT_EQ(Written(root, "etc", PathRule::kAsPassed), "/etc");
  EXPECT_EQ(Written(root, ".", PathRule::kAsPassed), "/");
  close(root);
}

TEST_F(PathRuleTest, AbsoluteOptionJoinsTheCurrentDirectory) {
  EXPECT_EQ(Written(AT_FDCWD, "f", PathRule::kAsPassed, /*absolute=*/true), cwd_ + "/f");
  EXPECT_EQ(Written(AT_FDCWD, "./f", PathRule::kAsPassed, true), cwd_ + "/f");
  EXPECT_EQ(Written(AT_FDCWD, "/f", PathRule::kAsPassed, true), "/f");
  EXPECT_EQ(Written(dirfd_, "f", PathRule::kAsPassed, true), dir_ + "/f");
}

TEST_F(PathRuleTest, LiteralIsNeverPrefixed) {
  EXPECT_EQ(Written(dirfd_, "target", PathRule::kLiteral), "target");
  EXPECT_EQ(Written(AT_FDCWD, "./t", PathRule::kLiteral, true), "./t");
}

TEST_F(PathRuleTest, DirectoryIsTheDirfdAlone) {
  EXPECT_EQ(Written(dirfd_, "", PathRule::kDirectory), dir_);
  EXPECT_EQ(Written(dirfd_, "ignored", PathRule::kDirectory), dir_);
}

TEST_F(PathRuleTest, ExecIsAlwaysAbsolute) {
  EXPECT_EQ(Written(AT_FDCWD, "prog", PathRule::kExec), cwd_ + "/prog");
  EXPECT_EQ(Written(AT_FDCWD, "./prog", PathRule::kExec), cwd_ + "/prog");
  EXPECT_EQ(Written(AT_FDCWD, ".//./bin/prog", PathRule::kExec), cwd_ + "/bin/prog");
  EXPECT_EQ(Written(AT_FDCWD, "/usr/bin/cc", PathRule::kExec), "/usr/bin/cc");
}

TEST_F(PathRuleTest, DirfdTheKernelCannotNameKeepsThePath) {
  EXPECT_EQ(Written(987654, "f", PathRule::kAsPassed), "f");
}

TEST_F(PathRuleTest, DirectoryThatDoesNotFitOverflows) {
  // Room for part of the directory only: the caller must retry larger, never get a cut path.
  EXPECT_EQ(Written(dirfd_, "f", PathRule::kAsPassed, false, dir_.size() - 1), "<overflow>");
  EXPECT_EQ(Written(dirfd_, "f", PathRule::kAsPassed, false, dir_.size()), "<overflow>");
  EXPECT_EQ(Written(AT_FDCWD, "f", PathRule::kAsPassed, true, cwd_.size()), "<overflow>");
  EXPECT_EQ(Written(dirfd_, "f", PathRule::kAsPassed, false, dir_.size() + 2), dir_ + "/f");
}

TEST_F(PathRuleTest, ReadFdTarget) {
  char out[PATH_MAX];
  const long n = ReadFdTarget(dirfd_, out, sizeof(out));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(out, static_cast<size_t>(n)), dir_);
  EXPECT_LT(ReadFdTarget(987654, out, sizeof(out)), 0);
}

TEST_F(PathRuleTest, ExecPathAt) {
  char out[PATH_MAX];
  ASSERT_TRUE(ExecPathAt(dirfd_, "prog", out, sizeof(out)));
  EXPECT_EQ(std::string(out), dir_ + "/prog");
  ASSERT_TRUE(ExecPathAt(dirfd_, "", out, sizeof(out)));
  EXPECT_EQ(std::string(out), dir_);
  ASSERT_TRUE(ExecPathAt(dirfd_, nullptr, out, sizeof(out)));
  EXPECT_EQ(std::string(out), dir_);
  ASSERT_TRUE(ExecPathAt(AT_FDCWD, "prog", out, sizeof(out)));
  EXPECT_EQ(std::string(out), cwd_ + "/prog");
  ASSERT_TRUE(ExecPathAt(987654, "/bin/sh", out, sizeof(out)));
  EXPECT_EQ(std::string(out), "/bin/sh");
  EXPECT_FALSE(ExecPathAt(987654, "prog", out, sizeof(out)));
  EXPECT_FALSE(ExecPathAt(dirfd_, "prog", out, dir_.size() + 5));  // no room for the NUL
  EXPECT_TRUE(ExecPathAt(dirfd_, "prog", out, dir_.size() + 6));
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
