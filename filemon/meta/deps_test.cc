#include "filemon/meta/deps.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

using Strings = std::vector<std::string>;

TEST(Deps, ResolvesWithPerProcessCwdAndGroups) {
  TestDir dir("deps");
  dir.Write("src/lib/a.c", "x");
  dir.Write("src/lib/a.h", "x");
  dir.Write("src/inc/b.h", "x");
  dir.Write("obj/gen/g.h", "x");
  dir.Write("obj/lib/cc", "x");
  const std::string meta = absl::StrReplaceAll(
      "CMD cc -c a.c\nCWD @/obj/lib\nTARGET a.o\n-- command output --\n\n"
      "-- filemon acquired metadata --\n# filemon version 5\nV 5\n"
      "E 1 @/obj/lib/cc\n"
      "F 1 2\n"
      "C 2 @/src/lib\n"
      "R 2 a.c\n"
      "R 2 a.h\n"
      "R 2 ../inc/b.h\n"
      "R 2 @/src/inc\n"
      "R 2 b.h\n"
      "R 2 @/obj/gen/g.h\n"
      "W 2 a.o.tmp\n"
      "M 2 'a.o.tmp' 'a.o'\n"
      "L 2 'a.h' 'a2.h'\n"
      "D 2 junk\n"
      "R 2 a.c\n"
      "X 2 0 0\n"
      "R 3\n",
      {{"@", dir.path()}});
  DepsOptions options;
  options.srctops = {dir / "src"};
  options.objroots = {dir / "obj/"};
  absl::StatusOr<Deps> deps = ExtractDeps(meta, "a.o.meta", options);
  ASSERT_TRUE(deps.ok()) << deps.status();
  const std::string s = dir / "src";
  EXPECT_EQ(deps->exec, Strings{dir / "obj/lib/cc"});
  EXPECT_EQ(deps->read, (Strings{s + "/lib/a.c", s + "/lib/a.h", s + "/inc/b.h", s + "/inc",
                                 dir / "obj/gen/g.h"}));
  EXPECT_EQ(deps->write, (Strings{s + "/lib/a.o.tmp", s + "/lib/a.o", s + "/lib/a2.h"}));
  EXPECT_EQ(deps->deleted, Strings{s + "/lib/junk"});
  ASSERT_EQ(deps->renamed.size(), 1u);
  EXPECT_EQ(deps->renamed[0].second, s + "/lib/a.o");
  EXPECT_EQ(deps->src_dirs, (Strings{"inc", "lib"}));
  EXPECT_EQ(deps->obj_dirs, (Strings{"gen"}));  // obj/lib is the CWD: not a dependency
  EXPECT_EQ(deps->malformed_lines, 1u);

  Deps merged = *deps;
  MergeDeps(*deps, &merged);
  EXPECT_EQ(merged.read, deps->read);
  EXPECT_EQ(merged.renamed.size(), 1u);
}

TEST(Deps, NeedsAFilemonSection) {
  absl::StatusOr<Deps> deps = ExtractDeps("CMD x\nCWD /\n-- command output --\n", "x.meta", {});
  ASSERT_FALSE(deps.ok());
  EXPECT_NE(deps.status().message().find("x.meta: no filemon section"), absl::string_view::npos);
  EXPECT_FALSE(ReadDeps("/nonexistent/x.meta", {}).ok());
}

}  // namespace
}  // namespace meta
}  // namespace filemon
