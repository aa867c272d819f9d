// Unit tests of the checker: what the differential test (tools/filemon_meta_bmake_test.cc) cannot
// reach with Debian's bmake: compat 20260313, parallel checks, JSON, byte-level corner cases.

#include "filemon/meta/checker.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

constexpr time_t kT0 = 1600000000;

std::string Meta(const std::string& cwd, const std::string& records) {
  return absl::StrCat("# Meta data file ", cwd, "/foo.meta\nCMD cc -c foo.c\nCWD ", cwd,
                      "\nTARGET foo\n-- command output --\n\n-- filemon acquired metadata --\n"
                      "# filemon version 5\nV 5\n",
                      records);
}

Decision MustCheck(const CheckOptions& options, const std::string& meta) {
  absl::StatusOr<Checker> checker = Checker::Create(options);
  EXPECT_TRUE(checker.ok()) << checker.status();
  absl::StatusOr<Decision> d = checker->CheckFile(meta);
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

class CheckerTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TestDir>(testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_->Write("d/foo", "o", kT0 + 10);
    options_.cwd = *dir_ / "d";
    options_.target = "foo";
  }
  std::string D() const { return *dir_ / "d"; }
  std::string MetaPath() const { return *dir_ / "d/foo.meta"; }
  void WriteMeta(const std::string& text) const { dir_->Write("d/foo.meta", text); }

  std::unique_ptr<TestDir> dir_;
  CheckOptions options_;
};

TEST_F(CheckerTest, Compat20260313MessagesHaveNoBlankAfterColon) {
  dir_->Write("d/new.h", "x", kT0 + 11);
  WriteMeta(Meta(D(), "R 1 new.h\n"));
  Decision d = MustCheck(options_, MetaPath());
  EXPECT_EQ(d.reason, Reason::kNewer);
  EXPECT_EQ(d.line, 10u);
  EXPECT_EQ(d.path, D() + "/new.h");
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0],
            MetaPath() + ":10: file '" + D() + "/new.h' is newer than the target...");
  options_.compat = Compat::k20200710;
  d = MustCheck(options_, MetaPath());
  EXPECT_EQ(d.messages[0],
            MetaPath() + ": 10: file '" + D() + "/new.h' is newer than the target...");
}

// Beyond bmake, opt-in: a file written later in the target's own second.
TEST_F(CheckerTest, FullMtimeResolutionSeesTheSameSecond) {
  dir_->Write("d/same.h", "x", kT0 + 10);
  const struct timespec target[2] = {{kT0 + 10, 100}, {kT0 + 10, 100}};
  const struct timespec later[2] = {{kT0 + 10, 900}, {kT0 + 10, 900}};
  ASSERT_EQ(utimensat(AT_FDCWD, (D() + "/foo").c_str(), target, 0), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, (D() + "/same.h").c_str(), later, 0), 0);
  WriteMeta(Meta(D(), "R 1 same.h\n"));
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);  // bmake: whole seconds
  options_.mtime_resolution = MtimeResolution::kFull;
  Decision d = MustCheck(options_, MetaPath());
  EXPECT_EQ(d.reason, Reason::kNewer);
  EXPECT_EQ(d.path, D() + "/same.h");
  ASSERT_EQ(utimensat(AT_FDCWD, (D() + "/foo").c_str(), later, 0), 0);
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);  // same instant: not newer
}

// Beyond bmake, opt-in: a project under an ignored directory (here: the test's own, as if it
// were /tmp) still has dependencies once the defaults are replaced.
TEST_F(CheckerTest, DefaultIgnorePathsCanBeReplaced) {
  dir_->Write("d/dep.h", "x", kT0 + 11);
  WriteMeta(Meta(D(), "R 1 " + D() + "/dep.h\n"));  // (bmake ignores absolute paths only)
  options_.default_ignore_paths = std::vector<std::string>{D()};
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
  options_.default_ignore_paths = std::vector<std::string>{};
  EXPECT_EQ(MustCheck(options_, MetaPath()).reason, Reason::kNewer);
  // /tmp is no longer ignored either.
  options_.default_ignore_paths.reset();
  WriteMeta(Meta(D(), "R 1 /tmp/filemon-checker-test-surely-missing\n"));
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
  options_.default_ignore_paths = std::vector<std::string>{};
  EXPECT_EQ(MustCheck(options_, MetaPath()).reason, Reason::kMissingFiles);
}

TEST_F(CheckerTest, MissingMetaIsFlagged) {
  Decision d = MustCheck(options_, D() + "/nope.meta");
  EXPECT_FALSE(d.out_of_date);
  EXPECT_TRUE(d.meta_missing);
  WriteMeta(Meta(D(), ""));
  EXPECT_FALSE(MustCheck(options_, MetaPath()).meta_missing);
}

// One Checker for a whole build; each target's commands per call.
TEST_F(CheckerTest, CommandsPerCall) {
  WriteMeta(Meta(D(), ""));
  CheckOptions shared;
  shared.cwd = options_.cwd;
  absl::StatusOr<Checker> checker = Checker::Create(shared);
  ASSERT_TRUE(checker.ok());
  TargetSpec same{"foo", std::vector<CurrentCommand>{{"cc -c foo.c", true}}};
  TargetSpec changed{"foo", std::vector<CurrentCommand>{{"cc -O2 -c foo.c", true}}};
  TargetSpec from_record;
  EXPECT_FALSE(checker->Check(MetaPath(), same)->out_of_date);
  EXPECT_EQ(checker->Check(MetaPath(), changed)->reason, Reason::kCmdChanged);
  EXPECT_FALSE(checker->Check(MetaPath(), from_record)->out_of_date);  // TARGET record
}

// [N] tests the raw path against IGNORE_PATHS before its realpath; [D] only the realpath.
TEST_F(CheckerTest, RawIgnoreTestOnlyIn20260313) {
  dir_->Mkdir("o/ign", kT0);
  dir_->Mkdir("o/real", kT0);
  dir_->Write("o/real/x.h", "x", kT0 + 11);
  dir_->Symlink("o/ign/lnk", *dir_ / "o/real");
  WriteMeta(Meta(D(), absl::StrCat("R 1 ", *dir_ / "o/ign/lnk/x.h", "\n")));
  options_.ignore_paths = {*dir_ / "o/ign"};
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
  options_.compat = Compat::k20200710;
  EXPECT_EQ(MustCheck(options_, MetaPath()).reason, Reason::kNewer);
}

TEST_F(CheckerTest, CmpFilterIn20260313) {
  WriteMeta(Meta(D(), ""));
  options_.commands = std::vector<CurrentCommand>{{"cc -O2 -c foo.c", true}};
  Decision d = MustCheck(options_, MetaPath());
  EXPECT_EQ(d.reason, Reason::kCmdChanged);
  EXPECT_EQ(d.old_command, "cc -c foo.c");
  EXPECT_EQ(d.new_command, "cc -O2 -c foo.c");
  EXPECT_EQ(d.messages[0], MetaPath() +
                               ":2: a build command has changed\ncc -c foo.c\nvs\n"
                               "cc -O2 -c foo.c");
  options_.cmp_filter = "S/-O2//";  // words are re-joined by single blanks
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
  options_.compat = Compat::k20200710;
  absl::StatusOr<Checker> refused = Checker::Create(options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("CMP_FILTER needs compat 20260313"),
            absl::string_view::npos);
}

TEST_F(CheckerTest, BadFilterIsAnError) {
  options_.ignore_filter = "tA";
  absl::StatusOr<Checker> checker = Checker::Create(options_);
  ASSERT_FALSE(checker.ok());
  EXPECT_NE(checker.status().message().find("IGNORE_FILTER: "), absl::string_view::npos);
}

TEST_F(CheckerTest, NulByteEndsTheLineAsBmakesStrlenDoes) {
  WriteMeta(Meta(D(), std::string("R 1 /x\0junk\n", 12)));
  Decision d = MustCheck(options_, MetaPath());
  EXPECT_EQ(d.reason, Reason::kTruncated);
  EXPECT_EQ(d.messages[0], MetaPath() + ":10: line truncated at 6");
  // A line starting with NUL ends bmake's reading (fgetLine returns 0): no verdict change.
  WriteMeta(Meta(D(), std::string("\0R 1 x\n\n", 8)));
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
}

TEST_F(CheckerTest, CandidateLongerThanMaxPathLen) {
  // A relative name that overflows MAXPATHLEN with cwd/: [D] truncates, [N] skips it.
  const std::string name(PATH_MAX, 'a');
  WriteMeta(Meta(D(), absl::StrCat("R 1 ", name, "\n")));
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
  options_.compat = Compat::k20200710;
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
}

TEST_F(CheckerTest, TargetFromTheTargetRecord) {
  WriteMeta(Meta(D(), ""));
  options_.target.clear();
  EXPECT_FALSE(MustCheck(options_, MetaPath()).out_of_date);
  dir_->Write("d/bar.meta", absl::StrReplaceAll(Meta(D(), ""), {{"TARGET foo", "TARGET bar"}}));
  Decision d = MustCheck(options_, *dir_ / "d/bar.meta");
  EXPECT_EQ(d.reason, Reason::kTargetMissing);
  EXPECT_EQ(d.path, "bar");
}

TEST_F(CheckerTest, MissingMetaIsAnIoErrorOnlyWhenNotEnoent) {
  absl::StatusOr<Checker> checker = Checker::Create(options_);
  ASSERT_TRUE(checker.ok());
  absl::StatusOr<Decision> d = checker->CheckFile(*dir_ / "d/none.meta");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->out_of_date);
  dir_->Mkdir("d/dir.meta");
  d = checker->CheckFile(*dir_ / "d/dir.meta");
  EXPECT_FALSE(d.ok());
}

TEST_F(CheckerTest, CheckFilesInParallelKeepsOrder) {
  std::vector<std::string> paths;
  for (int i = 0; i < 200; ++i) {
    const std::string name = absl::StrCat("t", i);
    dir_->Write("d/" + name, "o", kT0 + 10);
    dir_->Write(absl::StrCat("d/", name, ".h"), "x", kT0 + 10 + (i % 3 == 0 ? 1 : 0));
    const std::string meta = absl::StrReplaceAll(Meta(D(), absl::StrCat("R 1 ", name, ".h\n")),
                                                 {{"TARGET foo", "TARGET " + name}});
    dir_->Write(absl::StrCat("d/", name, ".meta"), meta);
    paths.push_back(*dir_ / absl::StrCat("d/", name, ".meta"));
  }
  options_.target.clear();
  absl::StatusOr<Checker> checker = Checker::Create(options_);
  ASSERT_TRUE(checker.ok());
  std::vector<absl::StatusOr<Decision>> results = checker->CheckFiles(paths, 4);
  ASSERT_EQ(results.size(), paths.size());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(results[i].ok());
    EXPECT_EQ(results[i]->out_of_date, i % 3 == 0) << i;
    EXPECT_EQ(results[i]->meta_path, paths[i]);
  }
}

TEST(DecisionJson, EscapesAndNamesTheReason) {
  Decision d;
  d.out_of_date = true;
  d.reason = Reason::kCmdChanged;
  d.line = 2;
  d.meta_path = "/o/a\"b.meta";
  d.old_command = "echo \\x";
  d.new_command = "a\tb";
  d.messages = {"m1\nm2"};
  EXPECT_EQ(DecisionJson(d),
            "{\"meta\":\"/o/a\\\"b.meta\",\"out_of_date\":true,\"reason\":\"cmd_changed\","
            "\"line\":2,\"path\":\"\",\"old_command\":\"echo \\\\x\",\"new_command\":\"a\\tb\","
            "\"messages\":[\"m1\\nm2\"]}");
}

TEST(ReasonCode, EveryReasonHasTheToolsCode) {
  EXPECT_EQ(ReasonCode(Reason::kUpToDate), "up-to-date");
  EXPECT_EQ(ReasonCode(Reason::kCmdMoreInMeta), "cmd_more_in_meta");
  EXPECT_EQ(ReasonCode(Reason::kTargetMissing), "target_missing");
  Compat c;
  EXPECT_TRUE(ParseCompat("20200710", &c));
  EXPECT_EQ(c, Compat::k20200710);
  EXPECT_FALSE(ParseCompat("2020", &c));
}

}  // namespace
}  // namespace meta
}  // namespace filemon

namespace filemon {
namespace meta {
namespace {

// A section over kParallelBytes is classified by several threads first: the decision must be
// the one the plain sequential reading gives, event by event.
TEST_F(CheckerTest, ParallelClassificationGivesTheSequentialDecision) {
  dir_->Mkdir("d/sub", kT0);
  dir_->Mkdir("o", kT0);
  for (int i = 0; i < 50; ++i) {
    dir_->Write(absl::StrCat("d/sub/f", i, ".h"), "x", kT0 + 5);
    dir_->Write(absl::StrCat("o/g", i, ".h"), "x", kT0 + 5);
  }
  dir_->Write("d/sub/late.h", "x", kT0 + 5);
  dir_->Write("o/newer.h", "x", kT0 + 11);
  std::string body;
  for (int p = 0; p < 6000; ++p) {
    const int pid = 2000 + p;
    absl::StrAppend(&body, "F 1000 ", pid, "\nE ", pid, " /etc/ignored-exec\n");
    if (p % 7 == 0)
      absl::StrAppend(&body, "R ", pid, " ", D(), "/sub\nR ", pid, " f", p % 50, ".h\n");
    if (p % 11 == 0) absl::StrAppend(&body, "C ", pid, " ", D(), "/sub\n");
    for (int k = 0; k < 5; ++k) {
      absl::StrAppend(&body, "R ", pid, " ", *dir_ / absl::StrCat("o/g", (p + k) % 50, ".h"), "\n");
    }
    absl::StrAppend(&body, "R ", pid, " late.h\nR ", pid, " ", *dir_ / "o/gone.h", "\nD ", pid, " ",
                    *dir_ / "o/gone.h", "\nX ", pid, " 0 0\n");
  }
  const std::string base = Meta(D(), body);
  ASSERT_GT(base.size(), 1u << 20);
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"up_to_date", base},
      {"newer_at_end", base + absl::StrCat("R 1 ", *dir_ / "o/newer.h", "\n")},
      {"malformed_in_middle",
       Meta(D(), body.substr(0, body.size() / 2) + "R 5\n" + body.substr(body.size() / 2))},
      {"missing_at_end", base + absl::StrCat("R 1 ", *dir_ / "o/never.h", "\n")},
      {"relative_newer_via_dir", base + absl::StrCat("R 1 ", *dir_ / "o", "\nR 1 newer.h\n")},
  };
  absl::StatusOr<Checker> checker = Checker::Create(options_);
  ASSERT_TRUE(checker.ok());
  for (const auto& [name, text] : variants) {
    SCOPED_TRACE(name);
    WriteMeta(text);
    absl::StatusOr<Decision> one = checker->CheckFileWith(MetaPath(), 1);
    absl::StatusOr<Decision> many = checker->CheckFileWith(MetaPath(), 4);
    ASSERT_TRUE(one.ok() && many.ok());
    EXPECT_EQ(one->reason, many->reason);
    EXPECT_EQ(one->line, many->line);
    EXPECT_EQ(one->path, many->path);
    EXPECT_EQ(one->messages, many->messages);
    EXPECT_EQ(one->out_of_date, name != "up_to_date") << ReasonCode(one->reason);
  }
}

// Lines near the shape the quick reader takes ("R 1234 /path"), each before a newer file: the
// decision (which line makes the target out of date, or that none does) is the general
// reading's, which a NUL after the last line forces.
TEST_F(CheckerTest, QuickLinesGiveTheGeneralReadingsDecision) {
  dir_->Write("d/new.h", "x", kT0 + 11);
  dir_->Mkdir("d/sub", kT0);
  const std::string newer = D() + "/new.h";
  const std::vector<std::string> lines = {
      "R 12 " + newer,
      "R 0 " + newer,
      "R 0012 " + newer,
      "R 123456789 " + newer,
      "R 1234567890 " + newer,
      "R 99999999999 " + newer,
      "R 12  " + newer,
      "R 12 " + newer + " ",
      "R -5 " + newer,
      "R 12 /",
      "R 12 ",
      "R 12",
      "R12 " + newer,
      "E 12 " + newer,
      "E 12 " + D() + "/sub",
      "R 12 " + D() + "/sub",
      "R 7 new.h",
      "W 12 " + newer,
      "R 12 " + newer + "\r",
      "R 2147483648 " + newer,
      "R 12 /etc/" + newer,
  };
  absl::StatusOr<Checker> checker = Checker::Create(options_);
  ASSERT_TRUE(checker.ok());
  for (const std::string& line : lines) {
    for (const char* rest : {"", "R 3 new.h\n", "C 12 /\nR 12 new.h\n"}) {
      const std::string meta = Meta(D(), absl::StrCat(line, "\n", rest));
      const Decision quick = checker->CheckData(meta, MetaPath(), kT0 + 10);
      const Decision general =
          checker->CheckData(meta + std::string(1, '\0'), MetaPath(), kT0 + 10);
      EXPECT_EQ(quick.reason, general.reason) << line << " | " << rest;
      EXPECT_EQ(quick.line, general.line) << line << " | " << rest;
      EXPECT_EQ(quick.path, general.path) << line << " | " << rest;
      EXPECT_EQ(quick.messages, general.messages) << line << " | " << rest;
    }
  }
  // The quick reader decides the plain case: the newer file at line 10.
  const Decision d = checker->CheckData(Meta(D(), "R 12 " + newer + "\n"), MetaPath(), kT0 + 10);
  EXPECT_EQ(d.reason, Reason::kNewer);
  EXPECT_EQ(d.line, 10u);
}

// A random filemon section over the files of CooperativeReadingGivesTheSequentialDecision...:
// `o` outside .OBJDIR, `sub` a directory in it. `rare_events`: no event lines but the rare
// ones.
std::string RandomSection(std::mt19937* rng, bool rare_events, const std::string& o,
                          const std::string& sub) {
  const auto pick = [rng](int n) { return static_cast<int>((*rng)() % n); };
  std::string body;
  int pid = 100;
  for (int k = 0, lines = 50 + pick(300); k < lines; ++k) {
    // A few pids, in runs (as real logs have them), now and then pid 0.
    if (pick(4) == 0) pid = 100 + pick(6);
    const int record_pid = pick(40) == 0 ? 0 : pid;
    // Quiet rounds: no absolute newer, missing or malformed line; a relative "newer.h" now
    // and then, newer only where the pid's latestdir or cwd is d/sub: the decision (and
    // its line) depends on every pid's directories.
    const int what = rare_events ? (pick(200) == 0 ? 1 : 5 + pick(55)) : pick(60);
    if (what == 0) {
      absl::StrAppend(&body, "R ", record_pid, " ", o, "/newer.h\n");
    } else if (what == 1) {
      absl::StrAppend(&body, "R ", record_pid,
                      " newer.h\n");  // newer only through latestdir/lcwd
    } else if (what == 2) {
      absl::StrAppend(&body, "R ", record_pid, " ", o, "/gone", pick(3), ".h\n");
    } else if (what == 3) {
      absl::StrAppend(&body, "D ", record_pid, " ", o, "/gone", pick(3), ".h\n");
    } else if (what == 4) {
      absl::StrAppend(&body, pick(2) ? "R 7\n" : "\n");  // malformed
    } else if (what < 10) {
      absl::StrAppend(&body, "C ", record_pid, " ", pick(2) ? sub : o, "\n");
    } else if (what < 16) {
      absl::StrAppend(&body, "F ", record_pid, " ", 100 + pick(8), "\n");
    } else if (what < 22) {
      absl::StrAppend(&body, "X ", record_pid, " 0\n");
    } else if (what < 26) {
      absl::StrAppend(&body, "E ", record_pid, " ", pick(2) ? "/etc/ignored" : o + "/g1.h", "\n");
    } else if (what < 30) {
      absl::StrAppend(&body, "R ", record_pid, " ", pick(2) ? o : sub, "\n");  // a directory
    } else if (what < 36) {
      absl::StrAppend(&body, "R ", record_pid, " f", pick(12), ".h\n");  // relative
    } else if (what < 38) {
      absl::StrAppend(&body, "R ", record_pid, " /etc/passwd\n");  // ignored
    } else {
      absl::StrAppend(&body, "R ", record_pid, " ", pick(2) ? o + "/g" : sub + "/f", pick(12),
                      ".h\n");
    }
  }
  if (pick(10) == 0) absl::StrAppend(&body, "R 101 ", o, "/g2.h");  // truncated last line
  return body;
}

// Expects the fields of `other` that a reading decides to be those of `one`.
void ExpectSameDecision(const Decision& one, const Decision& other, const std::string& context) {
  EXPECT_EQ(one.reason, other.reason) << context;
  EXPECT_EQ(one.line, other.line) << context;
  EXPECT_EQ(one.path, other.path) << context;
  EXPECT_EQ(one.messages, other.messages) << context;
}

// A line too long for bmake's first buffer grows it (a -dM note); read by several threads, the
// note comes once, at its place among the messages, as in the one-thread reading.
TEST_F(CheckerTest, CooperativeReadingNotesBufferGrowthAsTheSequentialOne) {
  dir_->Write("d/old.h", "x", kT0 + 5);
  std::string body;
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&body, "R 1 ", D(), "/old.h\n");
  absl::StrAppend(&body, "R 2 ", D(), "/", std::string(70000, 'a'), "\n");
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&body, "R 1 ", D(), "/old.h\n");
  absl::StrAppend(&body, "R 1 ", D(), "/gone/x.h\n");
  WriteMeta(Meta(D(), body));
  absl::StatusOr<Checker> one = Checker::Create(options_);
  ASSERT_TRUE(one.ok());
  options_.parallel = {/*min_bytes=*/1, /*chunk_bytes=*/4096};
  absl::StatusOr<Checker> many = Checker::Create(options_);
  ASSERT_TRUE(many.ok());
  absl::StatusOr<Decision> sequential = one->CheckFileWith(MetaPath(), 1);
  ASSERT_TRUE(sequential.ok());
  ASSERT_FALSE(sequential->messages.empty());
  EXPECT_TRUE(absl::StartsWith(sequential->messages[0], "growing buffer 65536 -> "))
      << sequential->messages[0];
  for (int threads : {2, 3}) {
    absl::StatusOr<Decision> cooperative = many->CheckFileWith(MetaPath(), threads);
    ASSERT_TRUE(cooperative.ok());
    ExpectSameDecision(*sequential, *cooperative, absl::StrCat(threads, " threads"));
  }
}

// Random filemon sections made of what changes per-process state (F, C, X, E, pids that come
// and go, relative names that need latestdir/lcwd, directories read, ignored and missing
// paths, D clearing them, malformed and truncated lines), read with chunks of a few lines by
// up to 3 threads: every decision field equals the one-thread reading.
TEST_F(CheckerTest, CooperativeReadingGivesTheSequentialDecisionOnRandomSections) {
  dir_->Mkdir("d/sub", kT0);
  dir_->Mkdir("o", kT0);
  for (int i = 0; i < 12; ++i) {
    dir_->Write(absl::StrCat("d/sub/f", i, ".h"), "x", kT0 + 5);
    dir_->Write(absl::StrCat("o/g", i, ".h"), "x", kT0 + 5);
  }
  dir_->Write("o/newer.h", "x", kT0 + 11);
  dir_->Write("d/sub/newer.h", "x", kT0 + 11);
  const std::string o = *dir_ / "o";
  const std::string sub = D() + "/sub";
  absl::StatusOr<Checker> checker = Checker::Create(options_);
  ASSERT_TRUE(checker.ok());
  // The same options with every section read by several threads, in chunks of about 1, 10
  // and 80 lines.
  std::vector<std::pair<size_t, Checker>> tuned;
  for (size_t chunk : {48, 400, 3000}) {
    CheckOptions options = options_;
    options.parallel = {/*min_bytes=*/1, /*chunk_bytes=*/chunk};
    absl::StatusOr<Checker> c = Checker::Create(options);
    ASSERT_TRUE(c.ok());
    tuned.emplace_back(chunk, *std::move(c));
  }
  std::mt19937 rng(20261124);
  int out_of_date = 0;
  for (int round = 0; round < 400; ++round) {
    SCOPED_TRACE(round);
    const std::string body = RandomSection(&rng, /*rare_events=*/round % 2 == 0, o, sub);
    WriteMeta(Meta(D(), body));
    absl::StatusOr<Decision> one = checker->CheckFileWith(MetaPath(), 1);
    ASSERT_TRUE(one.ok());
    out_of_date += one->out_of_date;
    // A NUL after the last line changes nothing for bmake but turns off the quick line reader.
    const Decision general =
        checker->CheckData(Meta(D(), body) + std::string(1, '\0'), MetaPath(), kT0 + 10);
    ExpectSameDecision(*one, general, body);
    for (const auto& [chunk, parallel] : tuned) {
      for (int threads : {2, 3}) {
        absl::StatusOr<Decision> many = parallel.CheckFileWith(MetaPath(), threads);
        ASSERT_TRUE(many.ok());
        ExpectSameDecision(*one, *many,
                           absl::StrCat(threads, " threads, chunks of ", chunk, " bytes\n", body));
      }
    }
  }
  // Both kinds of outcome are exercised.
  EXPECT_GT(out_of_date, 40);
  EXPECT_LT(out_of_date, 360);
}

}  // namespace
}  // namespace meta
}  // namespace filemon
