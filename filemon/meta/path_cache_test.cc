#include "filemon/meta/path_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filemon/core/owned_fd.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

constexpr time_t kT0 = 1600000000;

class PathCacheTest : public ::testing::Test {
 protected:
  PathCacheTest()
      : dir_("path_cache"), dir_fd_(open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {}
  TestDir dir_;
  OwnedFd dir_fd_;
};

// Many paths, alike but for one middle component or the last bytes: every one keeps its own
// entry, found again after the table has grown, at the same address.
TEST_F(PathCacheTest, FindKeepsOneStableEntryPerPath) {
  PathCache cache(dir_fd_.get(), dir_.path());
  std::vector<std::string> paths;
  for (int i = 0; i < 5000; ++i) {
    paths.push_back(absl::StrCat("/src/lib", i % 50, "/include/config", i / 50, ".h"));
  }
  paths.push_back("");
  paths.push_back("/");
  paths.push_back("short");
  std::vector<PathCache::Entry*> entries;
  for (size_t i = 0; i < paths.size(); ++i) {
    PathCache::Entry& e = cache.Find(paths[i]);
    EXPECT_EQ(e.tag, -1) << paths[i];
    e.tag = static_cast<int8_t>(i % 100);
    entries.push_back(&e);
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string copy = paths[i];  // found by content, not by address
    EXPECT_EQ(&cache.Find(copy), entries[i]) << paths[i];
    EXPECT_EQ(cache.Find(copy).tag, static_cast<int8_t>(i % 100)) << paths[i];
  }
}

// Stats of absolute names go through a descriptor of their directory once it has been asked
// for often: the answers must be those of stat(2) on the full name, for existing files,
// missing ones, directories, symlinks and paths through a symlinked directory.
TEST_F(PathCacheTest, StatAgreesWithStatOfTheFullName) {
  dir_.Write("d/old.h", "x", kT0);
  dir_.Write("d/new.h", "x", kT0 + 100);
  dir_.Mkdir("d/sub", kT0 + 5);
  dir_.Symlink("d/link.h", dir_ / "d/new.h");
  dir_.Symlink("d/dangling.h", dir_ / "d/none.h");
  dir_.Symlink("alias", dir_ / "d");
  std::vector<std::string> names;
  for (const char* d : {"d", "alias"}) {
    for (int i = 0; i < 10; ++i) names.push_back(absl::StrCat(d, "/missing", i, ".h"));
    for (const char* f : {"old.h", "new.h", "sub", "link.h", "dangling.h", "none.h"}) {
      names.push_back(absl::StrCat(d, "/", f));
    }
  }
  names.push_back("nodir/x.h");
  names.push_back("d/old.h/x");  // ENOTDIR
  PathCache cache(dir_fd_.get(), dir_.path());
  for (const std::string& name : names) {
    const std::string path = dir_ / name;
    struct stat st, lst;
    const int rc = stat(path.c_str(), &st);
    const int err = rc == 0 ? 0 : errno;
    const int lrc = lstat(path.c_str(), &lst);
    const int lerr = lrc == 0 ? 0 : errno;
    const StatResult s = cache.Stat(path);
    EXPECT_EQ(s.error, err) << name;
    if (err == 0) {
      EXPECT_EQ(s.mtime, st.st_mtime) << name;
      EXPECT_EQ(s.is_dir, S_ISDIR(st.st_mode)) << name;
    }
    const StatResult l = cache.Lstat(path);
    EXPECT_EQ(l.error, lerr) << name;
    if (lerr == 0) {
      EXPECT_EQ(l.mtime, lst.st_mtime) << name;
      EXPECT_EQ(l.is_link, S_ISLNK(lst.st_mode)) << name;
    }
  }
  EXPECT_LE(cache.stat_calls(), 2 * names.size());
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
