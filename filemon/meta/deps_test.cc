#include "filemon/meta/deps.h"

#include <unistd.h>

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

// A .meta with CWD `cwd` and the filemon `records` ('@' stands for `dir`).
std::string Meta(const TestDir& dir, absl::string_view cwd, absl::string_view records) {
  return absl::StrReplaceAll(
      absl::StrCat("CMD x\nCWD ", cwd,
                   "\nTARGET t\n-- command output --\n\n-- filemon acquired metadata --\n"
                   "# filemon version 5\nV 5\n",
                   records, "# Bye bye\n"),
      {{"@", dir.path()}});
}

Deps Extract(absl::string_view meta, const DepsOptions& options) {
  absl::StatusOr<Deps> deps = ExtractDeps(meta, "t.meta", options);
  EXPECT_TRUE(deps.ok()) << deps.status();
  return deps.ok() ? *deps : Deps();
}

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
  EXPECT_EQ(deps->src_dirs, (Strings{"lib", "inc"}));  // first-seen order
  EXPECT_EQ(deps->obj_dirs, (Strings{"gen"}));         // obj/lib is the CWD: not a dependency
  EXPECT_EQ(deps->malformed_lines, 1u);

  Deps merged = *deps;
  MergeDeps(*deps, &merged);
  EXPECT_EQ(merged.read, deps->read);
  EXPECT_EQ(merged.renamed.size(), 1u);
}

// Issue 24's wrong answers; each of these tests failed before its fix.

// A root named through a symbolic link matches files read by their real path, and the
// reverse; a link from an object directory into the source tree gives the source directory.
TEST(Deps, SymlinkedRootsAndDirectories) {
  TestDir dir("deps_symlinks");
  dir.Write("real/src/lib/a.h", "x");
  dir.Write("real/src/inc/b.h", "x");
  dir.Write("real/src/sys/include/m.h", "x");
  dir.Symlink("src", dir / "real/src");
  dir.Mkdir("obj/app");
  dir.Symlink("obj/app/machine", dir / "real/src/sys/include");
  const std::string meta = Meta(dir, "@/obj/app",
                                "R 1 @/real/src/lib/a.h\n"
                                "R 1 @/src/inc/b.h\n"
                                "R 1 @/obj/app/machine/m.h\n"
                                "X 1 0 0\n");
  DepsOptions via_link;
  via_link.srctops = {dir / "src"};
  via_link.objroots = {dir / "obj"};
  EXPECT_EQ(Extract(meta, via_link).src_dirs, (Strings{"lib", "inc", "sys/include"}));
  DepsOptions via_real = via_link;
  via_real.srctops = {dir / "real/src"};
  EXPECT_EQ(Extract(meta, via_real).src_dirs, (Strings{"lib", "inc", "sys/include"}));
}

// `C pid ../prog` is relative to the process's own directory, not applied as text.
TEST(Deps, RelativeChdirFromTheProcessDirectory) {
  TestDir dir("deps_relative_chdir");
  dir.Write("src/prog/main.c", "x");
  dir.Mkdir("src/lib");
  dir.Mkdir("obj/app");
  DepsOptions options;
  options.srctops = {dir / "src"};
  options.objroots = {dir / "obj"};
  const Deps deps = Extract(
      Meta(dir, "@/obj/app", "F 1 2\nC 2 @/src/lib\nC 2 ../prog\nR 2 main.c\nX 2 0 0\n"), options);
  EXPECT_EQ(deps.read, Strings{dir / "src/prog/main.c"});
  EXPECT_EQ(deps.src_dirs, Strings{"prog"});
  EXPECT_TRUE(deps.obj_dirs.empty());
}

// bmake's compat mode: one command after another, no F record. Each starts in the CWD, not
// in the directory the previous one moved to.
TEST(Deps, ProcessWithoutForkStartsInTheCwd) {
  TestDir dir("deps_no_fork");
  dir.Write("src/lib/a.h", "x");
  dir.Write("obj/app/a.h", "x");
  DepsOptions options;
  options.srctops = {dir / "src"};
  const Deps deps = Extract(Meta(dir, "@/obj/app",
                                 "E 10 /bin/sh\nC 10 @/src/lib\nX 10 0 0\n"
                                 "E 11 /bin/sh\nR 11 a.h\nX 11 0 0\n"),
                            options);
  EXPECT_EQ(deps.read, Strings{dir / "obj/app/a.h"});
  EXPECT_TRUE(deps.src_dirs.empty());
}

// A name that no longer exists is taken in the process's directory, not the CWD's.
TEST(Deps, DeletedFileResolvesInTheProcessDirectory) {
  TestDir dir("deps_deleted");
  dir.Mkdir("work");
  dir.Mkdir("obj/app");
  const Deps deps =
      Extract(Meta(dir, "@/obj/app", "F 1 2\nC 2 @/work\nR 2 gen.tmp\nD 2 gen.tmp\nX 2 0 0\n"), {});
  EXPECT_EQ(deps.read, Strings{dir / "work/gen.tmp"});
  EXPECT_EQ(deps.deleted, Strings{dir / "work/gen.tmp"});
}

// N (absent-path probes): in the process's own directory (never the last one read), in their
// own list, merged like the others, and in the JSON.
TEST(Deps, ProbedPathsInTheirOwnGroup) {
  TestDir dir("deps_probed");
  dir.Mkdir("work");
  dir.Mkdir("inc2");
  dir.Write("inc2/same.h", "x");
  const Deps deps =
      Extract(Meta(dir, "@/work",
                   "N 1 ../inc1/same.h\nR 1 @/inc2/same.h\nN 1 /abs/gone\nN 1 ../inc1/same.h\n"),
              {});
  EXPECT_EQ(deps.probed, (Strings{dir / "inc1/same.h", "/abs/gone"}));
  EXPECT_EQ(deps.read, Strings{dir / "inc2/same.h"});
  Deps merged;
  MergeDeps(deps, &merged);
  EXPECT_EQ(merged.probed, deps.probed);
  EXPECT_NE(DepsJson(deps).find(absl::StrCat("\"probed\":[\"", dir / "inc1/same.h")),
            std::string::npos)
      << DepsJson(deps);
}

// A symbolic link's contents are relative to the link's directory.
TEST(Deps, SymlinkTargetRelativeToTheLink) {
  TestDir dir("deps_symlink_target");
  dir.Write("obj/a/lib/x.h", "x");
  dir.Mkdir("obj/a/b/sub");
  dir.Symlink("obj/a/b/sub/x.h", "../../lib/x.h");
  DepsOptions options;
  options.objroots = {dir / "obj"};
  const Deps deps =
      Extract(Meta(dir, "@/obj/a/b", "L 1 '../../lib/x.h' 'sub/x.h'\nX 1 0 0\n"), options);
  EXPECT_EQ(deps.read, Strings{dir / "obj/a/lib/x.h"});
  EXPECT_EQ(deps.write, Strings{dir / "obj/a/b/sub/x.h"});
  EXPECT_EQ(deps.obj_dirs, Strings{"a/lib"});
}

// Nested roots: the longest match, whatever the order of the options.
TEST(Deps, NestedRootsTakeTheLongestMatch) {
  TestDir dir("deps_nested");
  dir.Write("w/contrib/zlib/z.h", "x");
  dir.Write("w/obj/lib/x.h", "x");
  dir.Write("w/lib/y.h", "x");
  DepsOptions options;
  options.srctops = {dir / "w", dir / "w/contrib"};
  options.objroots = {dir / "w/obj"};
  const Deps deps = Extract(Meta(dir, "@",
                                 "R 1 @/w/contrib/zlib/z.h\nR 1 @/w/obj/lib/x.h\n"
                                 "R 1 @/w/lib/y.h\nX 1 0 0\n"),
                            options);
  EXPECT_EQ(deps.src_dirs, (Strings{"zlib", "lib"}));
  EXPECT_EQ(deps.obj_dirs, Strings{"lib"});
}

// A relative root is taken from the current directory.
TEST(Deps, RelativeRootFromTheCurrentDirectory) {
  TestDir dir("deps_relative_root");
  dir.Write("src/lib/a.h", "x");
  char here[4096];
  ASSERT_NE(getcwd(here, sizeof here), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  DepsOptions options;
  options.srctops = {"src"};
  const Deps deps = Extract(Meta(dir, "@", "R 1 @/src/lib/a.h\nX 1 0 0\n"), options);
  ASSERT_EQ(chdir(here), 0);
  EXPECT_EQ(deps.src_dirs, Strings{"lib"});
}

// An interrupted build: no footer, or a process that executed a program and never exited.
TEST(Deps, ReportsTruncationAndMissingExits) {
  TestDir dir("deps_truncated");
  const std::string complete = Meta(dir, "@", "E 5 /bin/cc\nX 5 0 0\n");
  Deps deps = Extract(complete, {});
  EXPECT_FALSE(deps.truncated);
  EXPECT_TRUE(deps.missing_exits.empty());
  deps = Extract(complete.substr(0, complete.find("# Bye bye")), {});
  EXPECT_TRUE(deps.truncated);
  deps = Extract(complete.substr(0, complete.size() - 1), {});  // the footer lost its newline
  EXPECT_TRUE(deps.truncated);
  deps = Extract(Meta(dir, "@", "F 4 5\nE 5 /bin/cc\nE 6 /bin/ld\nX 6 0 0\n"), {});
  EXPECT_FALSE(deps.truncated);
  EXPECT_EQ(deps.missing_exits, Strings{"5 /bin/cc"});
}

// Several files on several threads, each with its own answer (a directory already grouped
// for one file is grouped again for the next), in the files' order.
TEST(Deps, ReadsManyFiles) {
  TestDir dir("deps_many");
  dir.Write("src/lib/a.h", "x");
  std::vector<std::string> files;
  for (int i = 0; i < 8; ++i) {
    files.push_back(dir / absl::StrCat("obj/t", i, ".meta"));
    dir.Write(absl::StrCat("obj/t", i, ".meta"),
              Meta(dir, "@/obj", absl::StrCat("R 1 @/src/lib/a.h\nR 1 @/obj/x", i, "\n")));
  }
  files.push_back(dir / "obj/missing.meta");
  DepsOptions options;
  options.srctops = {dir / "src"};
  options.lists = DepsLists::kDirectoriesOnly;
  const std::vector<absl::StatusOr<Deps>> results = ReadDepsFiles(files, options, 3);
  ASSERT_EQ(results.size(), files.size());
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->src_dirs, Strings{"lib"});
    EXPECT_TRUE(results[i]->read.empty());
  }
  EXPECT_FALSE(results[8].ok());
}

TEST(Deps, NeedsAFilemonSection) {
  absl::StatusOr<Deps> deps = ExtractDeps("CMD x\nCWD /\n-- command output --\n", "x.meta", {});
  ASSERT_FALSE(deps.ok());
  EXPECT_NE(deps.status().message().find("x.meta: no filemon section"), absl::string_view::npos);
  EXPECT_FALSE(ReadDeps("/nonexistent/x.meta", {}).ok());
}

// No file has a name longer than a line may be (1 MiB, the limit for input read in pieces):
// such a record is bad input, as in a pipe, not a name to resolve (a 300 MB path in a mapped
// .meta made `deps` abort with std::bad_alloc under an address-space limit).
TEST(Deps, APathLongerThanTheLineLimitIsBadInput) {
  TestDir dir("deps");
  const std::string huge(size_t{1} << 21, 'a');
  absl::StatusOr<Deps> deps =
      ExtractDeps(Meta(dir, "/", absl::StrCat("R 1 /ok\nR 1 ", huge, "\nX 1 0 0\n")), "x.meta", {});
  ASSERT_FALSE(deps.ok());
  EXPECT_EQ(deps.status().message(), "x.meta: line 10 is longer than the limit of 1048576 bytes");
}

}  // namespace
}  // namespace meta
}  // namespace filemon
