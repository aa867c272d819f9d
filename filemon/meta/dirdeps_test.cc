#include "filemon/meta/dirdeps.h"

#include <fcntl.h>

#include <string>
#include <vector>

#include "filemon/meta/path_cache.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

using Strings = std::vector<std::string>;

class DirDepsTest : public ::testing::Test {
 protected:
  DirDepsTest() : dir_("dirdeps") {
    dir_.Write("src/lib/libc/a.h", "x");
    dir_.Write("src/top.h", "x");
    dir_.Write("obj/amd64/lib/libc/libc.a", "x");
    dir_.Write("obj/i386/lib/libc/libc.a", "x");
    dir_.Write("obj/linux-x86_64/usr.bin/cc/cc", "x");
    dir_.Write("obj/amd64/foo", "x");
    dir_.Write("obj/stage/amd64/usr/include/z.h", "x");
    dir_.Write("obj/stage/amd64/usr/include/z.h.dirdep", "# lib/libz.amd64\n");
    dir_.Write("obj/stage/amd64/usr/lib/libq.a", "x");
    dir_.Write("obj/stage/amd64/usr/lib/.dirdep", "lib/libq.i386\n");
    dir_.Symlink("srclink", dir_ / "src");
  }

  // Groups each path (relative to the test directory) with `config`.
  DirDepsResult Group(DirDepsConfig config, const Strings& files) {
    PathCache cache(AT_FDCWD, "/");
    DirDeps deps(config, &cache);
    DirDepsResult out;
    for (const std::string& f : files) {
      const std::string path = dir_ / f;
      const size_t slash = path.rfind('/');
      deps.Add(path.substr(0, slash), path.substr(slash + 1), &out);
    }
    return out;
  }

  TestDir dir_;
};

TEST_F(DirDepsTest, NamesObjectDirectoriesAsMeta2depsDoes) {
  DirDepsConfig c;
  c.srctops = {dir_ / "src"};
  c.objroots = {dir_ / "obj/amd64/", dir_ / "obj/stage"};  // the trailing /amd64 goes
  c.machine = "amd64";
  c.files = true;
  const DirDepsResult r =
      Group(c, {"src/lib/libc/a.h", "obj/amd64/lib/libc/libc.a", "obj/i386/lib/libc/libc.a",
                "obj/amd64/foo", "obj/stage/amd64/usr/include/z.h",
                "obj/stage/amd64/usr/lib/libq.a", "src/top.h"});
  EXPECT_EQ(r.src.items(), (Strings{"lib/libc", "."}));
  EXPECT_EQ(r.obj.items(), (Strings{"lib/libc", "lib/libc.i386", "lib/libz", "lib/libq.i386"}));
  EXPECT_EQ(r.files.items(),
            (Strings{"lib/libc/a.h", "usr/include/z.h", "usr/lib/libq.a", "top.h"}));
}

TEST_F(DirDepsTest, HostAndNoMachine) {
  DirDepsConfig c;
  c.objroots = {dir_ / "obj"};
  c.machine = "host";
  c.host_target = "linux-x86_64";
  EXPECT_EQ(Group(c, {"obj/linux-x86_64/usr.bin/cc/cc", "obj/amd64/lib/libc/libc.a"}).obj.items(),
            (Strings{"usr.bin/cc", "lib/libc.amd64"}));
  c.machine = "none";
  EXPECT_EQ(Group(c, {"obj/amd64/lib/libc/libc.a"}).obj.items(), Strings{"amd64/lib/libc"});
  c.machine = "";
  EXPECT_EQ(Group(c, {"obj/amd64/lib/libc/libc.a"}).obj.items(), Strings{"amd64/lib/libc"});
}

TEST_F(DirDepsTest, RootsAsGivenAndReal) {
  DirDepsConfig c;
  c.srctops = {dir_ / "srclink"};
  c.objroots = {dir_ / "obj/amd64"};
  c.machine = "amd64";
  PathCache cache(AT_FDCWD, "/");
  EXPECT_EQ(DirDeps(c, &cache).RootsForTest(),
            (Strings{"src:" + dir_ / "srclink/", "src:" + dir_ / "src/", "obj:" + dir_ / "obj/"}));
  EXPECT_EQ(Group(c, {"src/lib/libc/a.h", "srclink/top.h"}).src.items(),
            (Strings{"lib/libc", "."}));
}

TEST(NormalizePath, IsLexical) {
  EXPECT_EQ(NormalizePath("/a//b/./c/../d/"), "/a/b/d");
  EXPECT_EQ(NormalizePath("/.."), "/");
  EXPECT_EQ(NormalizePath("/a/."), "/a");
  EXPECT_EQ(NormalizePath("/a/b/.."), "/a");
  EXPECT_EQ(NormalizePath("/a/.b/..c"), "/a/.b/..c");
  EXPECT_EQ(NormalizePath("/"), "/");
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
