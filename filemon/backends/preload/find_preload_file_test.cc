// FindPreloadFile: where it looks, and the path it returns (absolute, free of symbolic links
// and of `.`/`..`, as LD_PRELOAD and the logs get it).

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "filemon/backends/preload/preload_backend.h"
#include "filemon/backends/testing/trace_harness.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::WriteFile;

// Sets FILEMON_PRELOAD_DIR for one test.
class PreloadDir {
 public:
  explicit PreloadDir(const std::string& dir) { setenv("FILEMON_PRELOAD_DIR", dir.c_str(), 1); }
  ~PreloadDir() { unsetenv("FILEMON_PRELOAD_DIR"); }
};

TEST(FindPreloadFile, ReturnsTheFilesPathWithoutLinksOrDots) {
  const std::string dir = MakeTempDir("canonical");
  ASSERT_FALSE(dir.empty());
  mkdir((dir + "/real").c_str(), 0755);
  mkdir((dir + "/other").c_str(), 0755);
  ASSERT_TRUE(WriteFile(dir + "/other/target.so", "x").ok());
  ASSERT_EQ(symlink("real", (dir + "/alias").c_str()), 0);
  ASSERT_EQ(symlink("../other/target.so", (dir + "/real/probe.so").c_str()), 0);
  PreloadDir env(dir + "/alias/./../alias");
  absl::StatusOr<std::string> found = FindPreloadFile("probe.so");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, dir + "/other/target.so");
}

TEST(FindPreloadFile, ARelativeDirectoryGivesAnAbsolutePath) {
  const std::string dir = MakeTempDir("relative");
  ASSERT_FALSE(dir.empty());
  mkdir((dir + "/lib").c_str(), 0755);
  ASSERT_TRUE(WriteFile(dir + "/lib/probe.so", "x").ok());
  char here[PATH_MAX];
  ASSERT_NE(getcwd(here, sizeof(here)), nullptr);
  ASSERT_EQ(chdir(dir.c_str()), 0);
  absl::StatusOr<std::string> found;
  {
    PreloadDir env("lib");
    found = FindPreloadFile("probe.so");
  }
  ASSERT_EQ(chdir(here), 0);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, dir + "/lib/probe.so");
}

TEST(FindPreloadFile, NotFoundNamesThePlacesTried) {
  const std::string dir = MakeTempDir("missing");
  ASSERT_FALSE(dir.empty());
  PreloadDir env(dir);
  absl::StatusOr<std::string> found = FindPreloadFile("no-such-file.so");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  const std::string message(found.status().message());
  EXPECT_NE(message.find(dir + "/no-such-file.so"), std::string::npos) << message;
  EXPECT_NE(message.find("/../lib/filemon/no-such-file.so"), std::string::npos) << message;
  EXPECT_NE(message.find("set FILEMON_PRELOAD_DIR"), std::string::npos) << message;
}

// The library a test's runfiles hold is found without FILEMON_PRELOAD_DIR, readable.
TEST(FindPreloadFile, FindsTheInterposerInTheRunfiles) {
  absl::StatusOr<std::string> found = FindPreloadFile("libfilemon_preload.so");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->front(), '/');
  EXPECT_EQ(found->find("/./"), std::string::npos) << *found;
  EXPECT_EQ(found->find("/../"), std::string::npos) << *found;
  EXPECT_EQ(access(found->c_str(), R_OK), 0) << *found;
}

}  // namespace
}  // namespace filemon
