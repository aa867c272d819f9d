// Differential tests: for each scenario (a Makefile, a target, files with set mtimes and a
// hand-written .meta), Debian's bmake 20200710 (`bmake -r -n -dM`) and `filemon-meta check
// --compat 20200710` must reach the same verdict and print the same messages; the reason code
// must be the expected one. Rules and quirks: filemon/meta/bmake_meta.md.
//
// bmake ignores paths under /tmp (and $TMPDIR, unset here for both programs), so the scenarios
// live under TEST_TMPDIR, which Bazel puts under its output base (~/.cache/bazel/...). If that
// is under /tmp, /dev, /etc, /proc or /var/tmp, the test skips and says so.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tools/bmake_scenarios.h"

namespace filemon_meta_test {
// The scenario's name in gtest's messages.
void PrintTo(const Scenario& sc, std::ostream* os) { *os << sc.name; }
}  // namespace filemon_meta_test

namespace {

using filemon_meta_test::Command;
using filemon_meta_test::File;
using filemon_meta_test::kT0;
using filemon_meta_test::Scenario;

std::string Base() {
  const char* tmp = getenv("TEST_TMPDIR");
  return tmp ? tmp : "";
}

std::string Sub(std::string text, const std::string& d, const std::string& o) {
  return absl::StrReplaceAll(text, {{"@D@", d}, {"@O@", o}});
}

std::string Quote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

// Runs a shell command line; returns its exit status, stdout and stderr.
int Shell(const std::string& command, std::string* out, std::string* err, const std::string& dir) {
  const std::string o = dir + "/.stdout", e = dir + "/.stderr";
  const int rc = system(
      absl::StrCat("cd ", Quote(dir), " && ", command, " >", Quote(o), " 2>", Quote(e)).c_str());
  std::ifstream fo(o), fe(e);
  std::stringstream so, se;
  so << fo.rdbuf();
  se << fe.rdbuf();
  *out = so.str();
  *err = se.str();
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

void SetMtime(const std::string& path, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string ToolPath() {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/tools/filemon-meta");
}

// Writes the scenario's files, Makefile (also into `*makefile`), .meta and target under
// `base` (d/ is .OBJDIR, o/ outside it), with their mtimes.
void PlaceScenario(const Scenario& sc, const std::string& base, std::string* makefile) {
  const std::string d = base + "/d", o = base + "/o";
  ASSERT_EQ(
      system(
          absl::StrCat("rm -rf ", Quote(base), " && mkdir -p ", Quote(d), " ", Quote(o)).c_str()),
      0);
  // Files: parents first, then mtimes bottom-up (creating a child touches its directory).
  for (const File& f : sc.files) {
    const std::string path = base + "/" + f.path;
    if (!f.link.empty()) {
      ASSERT_EQ(symlink(Sub(f.link, d, o).c_str(), path.c_str()), 0) << path;
    } else if (f.dir) {
      ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << path;
    } else {
      WriteFile(path, "x\n");
    }
  }
  for (auto it = sc.files.rbegin(); it != sc.files.rend(); ++it) {
    SetMtime(base + "/" + it->path, kT0 + it->mtime);
  }
  *makefile = absl::StrCat(".MAKE.MODE= meta curdirOk=yes ", sc.mode, "\n",
                           Sub(sc.makefile_vars, d, o), "foo: ", sc.attrs, "\n");
  for (const Command& c : sc.commands) absl::StrAppend(makefile, "\t", c.makefile, "\n");
  WriteFile(d + "/Makefile", *makefile);
  if (sc.meta != "<none>") WriteFile(d + "/foo.meta", Sub(sc.meta, d, o));
  if (!sc.no_target) {
    WriteFile(d + "/foo", "built\n");
    SetMtime(d + "/foo", kT0 + 10);
  }
  SetMtime(d + "/Makefile", kT0 - 100);
  SetMtime(d, kT0);
  SetMtime(o, kT0);
}

// The `filemon-meta check` command line of the scenario, run with `env`.
std::string ToolCommand(const Scenario& sc, const std::string& env, const std::string& d,
                        const std::string& o) {
  std::string command = absl::StrCat(env, " ", Quote(ToolPath()), " check --compat 20200710 --cwd ",
                                     Quote(d), " --target foo");
  for (const Command& c : sc.commands) {
    absl::StrAppend(&command, c.compare ? " --cmd " : " --cmd-nocompare ", Quote(c.expanded));
  }
  for (const std::string& a : sc.args) absl::StrAppend(&command, " ", Quote(Sub(a, d, o)));
  absl::StrAppend(&command, " ", Quote(d + "/foo.meta"));
  return command;
}

class BmakeDiff : public testing::TestWithParam<Scenario> {};

TEST_P(BmakeDiff, SameVerdictAndMessages) {
  Scenario sc = GetParam();
  if (sc.commands.empty()) sc.commands = {{"echo build > ${.TARGET}", "echo build > foo"}};
  if (system("command -v bmake >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "bmake is not installed (Debian package bmake)";
  }
  const std::string root = Base();
  for (const char* ignored : {"/tmp", "/dev", "/etc", "/proc", "/var/tmp", "/var/run"}) {
    if (absl::StartsWith(root, ignored)) {
      GTEST_SKIP() << "TEST_TMPDIR (" << root << ") is under " << ignored
                   << ", which bmake ignores: scenarios cannot be placed there";
    }
  }
  char real[PATH_MAX];
  ASSERT_NE(realpath(root.c_str(), real), nullptr);
  const std::string base = absl::StrCat(real, "/", sc.name);
  const std::string d = base + "/d", o = base + "/o";
  std::string makefile;
  ASSERT_NO_FATAL_FAILURE(PlaceScenario(sc, base, &makefile));

  const std::string env = "env -u TMPDIR -u MAKEFLAGS -u MAKEOBJDIR -u MAKEOBJDIRPREFIX";
  std::string bout, berr;
  Shell(absl::StrCat(env, " bmake -r -n -dM -f Makefile foo"), &bout, &berr, d);
  const bool bmake_up = absl::StrContains(bout, "`foo' is up to date.");
  std::vector<std::string> bmake_lines;
  for (absl::string_view line : absl::StrSplit(berr, '\n', absl::SkipEmpty())) {
    absl::ConsumePrefix(&line, "bmake: ");
    bmake_lines.emplace_back(line);
  }

  const std::string command = ToolCommand(sc, env, d, o);
  std::string tout, terr;
  const int rc = Shell(command, &tout, &terr, d);
  // The tool's one addition to bmake: a missing .meta is said on stderr (verdict unchanged).
  const bool meta_missing = access((d + "/foo.meta").c_str(), F_OK) != 0;
  EXPECT_EQ(terr, meta_missing ? absl::StrCat("filemon-meta: ", d,
                                              "/foo.meta: no such file (as in bmake, the verdict "
                                              "comes from the target and --missing-meta alone)\n")
                               : "");
  std::vector<std::string> tool_lines = absl::StrSplit(tout, '\n', absl::SkipEmpty());
  ASSERT_FALSE(tool_lines.empty()) << command;
  const std::string verdict = tool_lines[0];
  tool_lines.erase(tool_lines.begin());

  SCOPED_TRACE(absl::StrCat("Makefile:\n", makefile, "\n.meta:\n", Sub(sc.meta, d, o),
                            "\nbmake stdout:\n", bout, "\nbmake stderr:\n", berr, "\ntool:\n",
                            tout));
  EXPECT_EQ(verdict == "up-to-date", bmake_up) << verdict;
  EXPECT_EQ(rc, verdict == "up-to-date" ? 0 : 1);
  EXPECT_EQ(verdict, sc.expect == "up-to-date" ? sc.expect : "out-of-date: " + sc.expect);
  EXPECT_EQ(absl::StrJoin(tool_lines, "\n"), absl::StrJoin(bmake_lines, "\n"));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BmakeDiff,
                         testing::ValuesIn(filemon_meta_test::BmakeScenarios()),
                         [](const testing::TestParamInfo<Scenario>& info) {
                           return info.param.name;
                         });

}  // namespace
