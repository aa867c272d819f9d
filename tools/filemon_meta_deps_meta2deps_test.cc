// Differential: Debian's meta2deps.py (v1.30, /usr/share/bmake/mk-bmake) and
// `filemon-meta deps --format=meta2deps`, given the same arguments (as gendirdeps.mk passes
// them) and the same .meta files, written by `filemon-meta run` (ptrace) in a DIRDEPS tree
// OBJROOT/MACHINE/RELDIR. The ordinary cases must agree byte for byte; each deliberate
// difference (filemon/meta/deps.md) has its own test stating both answers and why.
//
// Versions: Debian ships v1.30; the current one is v1.54. On the ordinary cases here they
// answer alike (v1.54 also reads M records, handles L's destination before its source, and
// checks word counts, footers and exits); where they differ on a case below, the test says so.

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace {

constexpr char kMeta2deps[] = "/usr/share/bmake/mk-bmake/meta2deps.py";

struct Output {
  int status = -1;
  std::string out, err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs `command` in `dir` (MACHINE and friends unset: meta2deps reads them).
Output Shell(const std::string& dir, const std::string& command) {
  const std::string cmd =
      absl::StrCat("cd '", dir, "' && env -u MACHINE -u MACHINE_ARCH -u SB_SRC -u SB_OBJROOT ",
                   command, " >.stdout 2>.stderr");
  const int rc = system(cmd.c_str());
  Output o;
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  o.out = ReadAll(dir + "/.stdout");
  o.err = ReadAll(dir + "/.stderr");
  return o;
}

std::string Tool() {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/tools/filemon-meta");
}

class Meta2depsTest : public ::testing::Test {
 protected:
  Meta2depsTest() : dir_("m2d"), r_(dir_.path()), objdir_(r_ + "/obj/amd64/bin/ls") {}

  void SetUp() override {
    if (system("command -v python3 >/dev/null 2>&1") != 0 || access(kMeta2deps, R_OK) != 0) {
      GTEST_SKIP() << "needs python3 and Debian's bmake (" << kMeta2deps << ")";
    }
    for (const char* f :
         {"src/bin/ls/ls.c", "src/include/stdio.h", "src/lib/libc/a.h", "src/lib/libc/gen/g.h",
          "src/lib/b/a.h", "src/top.h", "src/lib/my dir/x.h", "src/sys/amd64/include/m.h",
          "src/obj/amd64/lib/n/n.a", "obj/amd64/lib/libc/libc.a", "obj/i386/lib/libc/libc.a",
          "obj/linux-x86_64/usr.bin/cc/cc", "obj/stage/amd64/usr/include/z.h"}) {
      dir_.Write(f, "x\n");
    }
    dir_.Write("obj/stage/amd64/usr/include/z.h.dirdep", "# lib/libz.amd64\n");
    dir_.Mkdir("obj/amd64/bin/ls");
    dir_.Mkdir("obj/amd64/usr.bin/x");
    dir_.Symlink("srclink", r_ + "/src");
    dir_.Symlink("obj/amd64/bin/ls/machine", r_ + "/src/sys/amd64/include");
  }

  // Writes OBJDIR/NAME with `filemon-meta run --backend ptrace`, one --cmd per command
  // ('@' stands for the tree's root).
  void Make(const std::string& name, const std::vector<std::string>& commands) {
    std::string cmd = absl::StrCat("'", Tool(), "' run --backend ptrace --meta ", name,
                                   " --target ", name.substr(0, name.size() - 5));
    for (const std::string& c : commands) {
      std::string text = c;
      for (size_t at; (at = text.find('@')) != std::string::npos;) text.replace(at, 1, r_);
      absl::StrAppend(&cmd, " --cmd \"", text, "\"");
    }
    const Output o = Shell(objdir_, cmd);
    if (o.status == 2 && absl::StrContains(o.out + o.err, "backend")) {
      GTEST_SKIP() << "no ptrace here: " << o.err;
    }
    ASSERT_EQ(o.status, 0) << o.out << o.err;
  }

  // gendirdeps.mk's arguments for bin/ls, then `extra` and the files.
  std::string Args(const std::string& extra, const std::string& files) const {
    return absl::StrCat("-R bin/ls -H linux-x86_64 -O ", r_, "/obj/amd64 -O ", r_, "/obj/stage ",
                        extra, " MACHINE=amd64 SRCTOP=", r_, "/src RELDIR=bin/ls CURDIR=", r_,
                        "/src/bin/ls ", files);
  }
  Output Theirs(const std::string& args) {
    return Shell(objdir_, absl::StrCat("python3 ", kMeta2deps, " ", args));
  }
  Output Ours(const std::string& args) {
    return Shell(objdir_, absl::StrCat("'", Tool(), "' deps --format=meta2deps ", args));
  }
  // Both tools on the same arguments: byte for byte the same output, and success.
  void ExpectSame(const std::string& args, const std::string& expected) {
    const Output theirs = Theirs(args);
    const Output ours = Ours(args);
    EXPECT_EQ(theirs.status, 0) << theirs.err;
    EXPECT_EQ(ours.status, 0) << ours.err;
    EXPECT_EQ(ours.out, theirs.out);
    EXPECT_EQ(ours.out, expected);
  }

  filemon::meta::TestDir dir_;
  const std::string r_;
  const std::string objdir_;
};

TEST_F(Meta2depsTest, OrdinaryBuild) {
  Make("ls.o.meta",
       {"cat @/src/bin/ls/ls.c ../../../../src/include/stdio.h @/obj/amd64/lib/libc/libc.a "
        "@/obj/i386/lib/libc/libc.a @/obj/stage/amd64/usr/include/z.h > ls.o",
        "cd @/src/lib/libc && cat a.h gen/g.h > /dev/null",
        "cat /etc/hostname @/obj/linux-x86_64/usr.bin/cc/cc > /dev/null; "
        "echo x > @/obj/amd64/usr.bin/x/out; ls @/src/lib > /dev/null"});
  ExpectSame(Args("", "ls.o.meta"),
             "lib/libc\nlib/libc.i386\nlib/libz\nusr.bin/cc.linux-x86_64\n"
             "src:include\nsrc:lib/libc\nsrc:lib/libc/gen\n");
}

TEST_F(Meta2depsTest, SeveralFilesListFileExcludesAndLinkedRoots) {
  Make("a.o.meta", {"cat @/src/lib/libc/a.h @/obj/amd64/lib/libc/libc.a > a.o"});
  Make("b.o.meta", {"cat @/src/include/stdio.h @/obj/i386/lib/libc/libc.a > b.o",
                    "cd ../../../../src/lib && cat b/a.h > /dev/null"});
  Make("c.o.meta", {"cat machine/m.h > c.o"});  // FreeBSD's objdir link into the source tree
  std::ofstream(objdir_ + "/meta.list") << "a.o.meta\nb.o.meta c.o.meta\n";
  const std::string both = "lib/libc\nlib/libc.i386\nbin/ls/machine\n";
  ExpectSame(Args("", "a.o.meta b.o.meta c.o.meta"),
             both + "src:lib/libc\nsrc:include\nsrc:lib/b\nsrc:sys/amd64/include\n");
  ExpectSame(Args("", "@meta.list"),
             both + "src:lib/libc\nsrc:include\nsrc:lib/b\nsrc:sys/amd64/include\n");
  ExpectSame(Args("-X " + r_ + "/src/include", "a.o.meta b.o.meta"),
             "lib/libc\nlib/libc.i386\nsrc:lib/libc\nsrc:lib/b\n");
  // SRCTOP through a link: meta2deps also tries its realpath.
  const std::string linked = absl::StrCat("-S ", r_, "/srclink ", Args("", "a.o.meta"));
  ExpectSame(linked, "lib/libc\nsrc:lib/libc\n");
  // No file at all: nothing printed; -q: nothing printed; -ddd: debugging on stderr only.
  ExpectSame(Args("", "missing.meta"), "");
  ExpectSame(Args("-q", "a.o.meta"), "");
  ExpectSame(Args("-ddd", "a.o.meta"), "lib/libc\nsrc:lib/libc\n");
}

// The same model in `deps`'s own options and formats.
TEST_F(Meta2depsTest, TextAndJsonFormats) {
  Make("a.o.meta", {"cat @/src/lib/libc/a.h @/obj/i386/lib/libc/libc.a > a.o"});
  const std::string opts = absl::StrCat("deps --machine amd64 --srctop ", r_, "/src --objroot ", r_,
                                        "/obj/amd64 --curdir ", r_, "/src/bin/ls a.o.meta");
  const Output text = Shell(objdir_, absl::StrCat("'", Tool(), "' ", opts));
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, absl::StrCat("\nR ", r_, "/src/lib/libc/a.h\n")))
      << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, absl::StrCat("\nW ", objdir_, "/a.o\n"))) << text.out;
  EXPECT_TRUE(absl::EndsWith(text.out, "src:lib/libc\nobj:lib/libc.i386\n")) << text.out;
  const Output json = Shell(objdir_, absl::StrCat("'", Tool(), "' ", opts, " --format json"));
  EXPECT_EQ(json.status, 0) << json.err;
  EXPECT_TRUE(absl::StrContains(json.out,
                                "\"src_dirs\":[\"lib/libc\"],"
                                "\"obj_dirs\":[\"lib/libc.i386\"],"
                                "\"malformed_lines\":0,\"truncated\":false,"
                                "\"missing_exits\":[]}"))
      << json.out;
}

// gendirdeps.mk itself (bmake's mk files), once with meta2deps.py and once with filemon-meta
// named in local.gendirdeps.mk as the README says: the same Makefile.depend.
TEST_F(Meta2depsTest, GendirdepsMkWritesTheSameMakefileDepend) {
  const std::string mk = "/usr/share/bmake/mk-bmake";
  if (system("command -v bmake >/dev/null 2>&1") != 0 ||
      access((mk + "/gendirdeps.mk").c_str(), R_OK) != 0) {
    GTEST_SKIP() << "needs bmake and " << mk << "/gendirdeps.mk";
  }
  Make("ls.o.meta", {"cat @/src/bin/ls/ls.c @/src/include/stdio.h @/obj/amd64/lib/libc/libc.a "
                     "@/obj/i386/lib/libc/libc.a > ls.o"});
  dir_.Write("mk-py/local.gendirdeps.mk",
             absl::StrCat("META2DEPS = ", kMeta2deps, "\nPYTHON = python3\n"));
  dir_.Write("mk-ours/local.gendirdeps.mk",
             absl::StrCat("META2DEPS = ", Tool(),
                          "\nMETA2DEPS_CMD = ${META2DEPS} deps --format=meta2deps\n"
                          "META2DEPS_FILTER = sed 's,^src:,${SRCTOP}/,;"
                          "s,^\\([^/]\\),${OBJTOP}/\\1,' |\n"));
  std::string depend[2];
  for (int i = 0; i < 2; ++i) {
    const std::string v = i == 0 ? "py" : "ours";
    dir_.Mkdir("cur-" + v);
    const Output o =
        Shell(objdir_, absl::StrCat("bmake -m ", r_, "/mk-", v, " -m ", mk, " -f ", mk,
                                    "/gendirdeps.mk _CURDIR=", r_, "/cur-", v, " _OBJDIR=", objdir_,
                                    " OBJTOP=", r_, "/obj/amd64 SRCTOP=", r_, "/src RELDIR=bin/ls",
                                    " MACHINE=amd64 HOST_TARGET=linux-x86_64 META_FILES=ls.o.meta",
                                    " .MAKE.DEPENDFILE=Makefile.depend"));
    EXPECT_EQ(o.status, 0) << o.out << o.err;
    depend[i] = ReadAll(absl::StrCat(r_, "/cur-", v, "/Makefile.depend"));
  }
  EXPECT_TRUE(absl::StrContains(depend[0], "\tlib/libc \\\n")) << depend[0];
  EXPECT_EQ(depend[1], depend[0]);
}

// Deliberate differences (filemon/meta/deps.md lists them with their reasons).

// 1. meta2deps's "seen" cache keeps raw names across processes: the second `a.h`, read in
//    another directory, is skipped.
TEST_F(Meta2depsTest, DifferenceSharedSeenCache) {
  Make("s.o.meta",
       {"cd @/src/lib/libc && cat a.h > /dev/null", "cd @/src/lib/b && cat a.h > /dev/null"});
  EXPECT_EQ(Theirs(Args("", "s.o.meta")).out, "\nsrc:lib/libc\n");
  EXPECT_EQ(Ours(Args("", "s.o.meta")).out, "\nsrc:lib/libc\nsrc:lib/b\n");
}

// 2. `//` is not cleaned by meta2deps: `src:/include`.
TEST_F(Meta2depsTest, DifferenceDoubleSlash) {
  Make("d.o.meta", {"cat @/src//include/stdio.h > /dev/null"});
  EXPECT_EQ(Theirs(Args("", "d.o.meta")).out, "\nsrc:/include\n");
  EXPECT_EQ(Ours(Args("", "d.o.meta")).out, "\nsrc:include\n");
}

// 3. A file in the source root itself: meta2deps prints the root's own path.
TEST_F(Meta2depsTest, DifferenceRootItself) {
  Make("t.o.meta", {"cat @/src/top.h > /dev/null"});
  EXPECT_EQ(Theirs(Args("", "t.o.meta")).out, absl::StrCat("\nsrc:", r_, "/src\n"));
  EXPECT_EQ(Ours(Args("", "t.o.meta")).out, "\nsrc:.\n");
}

// 4. A space in a name: v1.30 reads `.../my`, which does not exist, and drops the file
//    (v1.54's word count check aborts instead).
TEST_F(Meta2depsTest, DifferenceSpaceInName) {
  Make("m.o.meta", {"cat '@/src/lib/my dir/x.h' > /dev/null"});
  EXPECT_EQ(Theirs(Args("", "m.o.meta")).out, "\nsrc:\n");
  EXPECT_EQ(Ours(Args("", "m.o.meta")).out, "\nsrc:lib/my dir\n");
}

// 5. An object root inside a source root: meta2deps tries source roots first.
TEST_F(Meta2depsTest, DifferenceNestedRoots) {
  Make("n.o.meta", {"cat @/src/obj/amd64/lib/n/n.a > /dev/null"});
  const std::string args = absl::StrCat("-O ", r_, "/src/obj ", Args("", "n.o.meta"));
  EXPECT_EQ(Theirs(args).out, "\nsrc:obj/amd64/lib/n\n");
  EXPECT_EQ(Ours(args).out, "lib/n\nsrc:\n");
}

// 7. No MACHINE: meta2deps's trims empty the object root and it fails; without a machine we
//    name object directories relative to their root.
TEST_F(Meta2depsTest, DifferenceNoMachine) {
  Make("v.o.meta", {"cat @/obj/amd64/lib/libc/libc.a @/src/include/stdio.h > /dev/null"});
  const std::string args = absl::StrCat("-O ", r_, "/obj SRCTOP=", r_, "/src v.o.meta");
  const Output theirs = Theirs(args);
  EXPECT_NE(theirs.status, 0);
  EXPECT_TRUE(absl::StartsWith(theirs.out, "ERROR:")) << theirs.out;
  const Output ours = Ours(args);
  EXPECT_EQ(ours.status, 0) << ours.err;
  EXPECT_EQ(ours.out, "amd64/lib/libc\nsrc:include\n");
}

// 8. A process without its X (and a log without its footer): v1.30 says nothing (v1.54
//    fails with ERROR: on stdout); we answer, warn on stderr and exit 1.
TEST_F(Meta2depsTest, DifferenceTruncatedLog) {
  Make("x.o.meta", {"cat @/src/include/stdio.h > /dev/null"});
  std::string text = ReadAll(objdir_ + "/x.o.meta");
  const size_t last_exit = text.rfind("\nX ");
  text.erase(last_exit + 1, text.find('\n', last_exit + 1) - last_exit);  // the shell's X
  text.erase(text.find("# Bye bye"));
  std::ofstream(objdir_ + "/x.o.meta", std::ios::trunc) << text;
  const Output theirs = Theirs(Args("", "x.o.meta"));
  const Output ours = Ours(Args("", "x.o.meta"));
  EXPECT_EQ(theirs.status, 0);
  EXPECT_EQ(ours.status, 1);
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_TRUE(absl::StrContains(ours.err, "truncated filemon data")) << ours.err;
  EXPECT_TRUE(absl::StrContains(ours.err, "missing eXit for pid")) << ours.err;
}

// 9. -D: v1.30 fails under Python 3 (list.sort(cmp, ...), text to a 'wb' file); ours writes
//    every source file read (meta2deps's seen cache would keep the first of each directory).
TEST_F(Meta2depsTest, DifferenceDpdeps) {
  Make("p.o.meta", {"cat @/src/lib/libc/a.h @/src/lib/libc/gen/g.h @/obj/amd64/lib/libc/libc.a "
                    "@/src/lib/b/a.h > /dev/null"});
  EXPECT_NE(Theirs(absl::StrCat("-D dp.py ", Args("", "p.o.meta"))).status, 0);
  const Output ours = Ours(absl::StrCat("-D dp ", Args("", "p.o.meta")));
  EXPECT_EQ(ours.status, 0) << ours.err;
  EXPECT_EQ(ReadAll(objdir_ + "/dp"),
            "DPDEPS_lib/b/a.h += bin/ls\nDPDEPS_lib/libc/a.h += bin/ls\n"
            "DPDEPS_lib/libc/gen/g.h += bin/ls\nDEPDIRS_lib/libc += bin/ls\n");
}

}  // namespace
