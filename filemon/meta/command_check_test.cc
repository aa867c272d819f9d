// CMD and CWD records: comparison as text, multi-line commands, counts both ways, CMP_FILTER.

#include "filemon/meta/command_check.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

class CommandCheckTest : public testing::Test {
 protected:
  std::unique_ptr<const CheckState> Prepare() {
    options_.cwd = "/";
    absl::StatusOr<std::unique_ptr<const CheckState>> s = PrepareCheckState(options_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  // The header lines of `meta` (CMD and CWD as RunCheck dispatches them), checked against
  // `commands`.
  Decision Check(const std::string& meta, absl::optional<std::vector<CurrentCommand>> commands) {
    const std::unique_ptr<const CheckState> s = Prepare();
    Decision d;
    d.meta_path = "/m";
    Verdict v(&d, d.meta_path, s->options.compat);
    CommandCheck check(*s, commands);
    LineReader reader(meta);
    MetaLine line;
    while (!v.out_of_date() && v.ReadLine(&reader, &line)) {
      const absl::string_view text = line.text;
      const size_t sp = text.find(' ');
      const bool has_text = sp != absl::string_view::npos;
      const absl::string_view rest = has_text ? text.substr(sp + 1) : absl::string_view();
      if (text.substr(0, sp) == "CMD") check.Cmd(line, has_text, rest, &reader, &v);
      if (text.substr(0, sp) == "CWD") check.Cwd(has_text, rest, &v);
    }
    return d;
  }
  CheckOptions options_;
};

TEST_F(CommandCheckTest, SameTextsAreUpToDate) {
  Decision d = Check("CMD cc -c a.c\nCMD ld a.o\nCWD /\n", {{{"cc -c a.c"}, {"ld a.o"}}});
  EXPECT_FALSE(d.out_of_date);
  EXPECT_TRUE(d.messages.empty());
}

TEST_F(CommandCheckTest, TrailingBlankIsAChange) {
  Decision d = Check("CMD cc -c a.c \nCWD /\n", {{{"cc -c a.c"}}});
  EXPECT_EQ(d.reason, Reason::kCmdChanged);
  EXPECT_EQ(d.line, 1u);
  EXPECT_EQ(d.old_command, "cc -c a.c ");
}

TEST_F(CommandCheckTest, CountsAreCheckedAtCmdAndAtCwd) {
  EXPECT_EQ(Check("CMD a\nCMD b\nCWD /\n", {{{"a"}}}).reason, Reason::kCmdMoreInMeta);
  Decision d = Check("CMD a\nCWD /\n", {{{"a"}, {"b"}}});
  EXPECT_EQ(d.reason, Reason::kCmdExtraNow);
  EXPECT_EQ(d.line, 2u);
}

TEST_F(CommandCheckTest, UnsetCommandsAreNotCompared) {
  EXPECT_FALSE(Check("CMD a\nCMD b\nCWD /\n", absl::nullopt).out_of_date);
}

TEST_F(CommandCheckTest, MultiLineCommandSpansLinesAndReportsItsLastLine) {
  Decision same = Check("CMD echo x\ny\nCWD /\n", {{{"echo x\ny"}}});
  EXPECT_FALSE(same.out_of_date);
  Decision changed = Check("CMD echo x\nz\nCWD /\n", {{{"echo x\ny"}}});
  EXPECT_EQ(changed.reason, Reason::kCmdChanged);
  EXPECT_EQ(changed.line, 2u);
  EXPECT_EQ(changed.old_command, "echo x\nz");
}

TEST_F(CommandCheckTest, TruncatedContinuationIsOnlyAMessage) {
  Decision d = Check("CMD echo x\ny", {{{"echo x\ny"}}});
  EXPECT_FALSE(d.out_of_date);
  EXPECT_EQ(d.messages, std::vector<std::string>{"/m:2: line truncated at 12"});
}

TEST_F(CommandCheckTest, OodateCommandIsCountedNotCompared) {
  Decision d = Check("CMD anything\nCWD /\n", {{{"cc $?", false}}});
  EXPECT_FALSE(d.out_of_date);
  EXPECT_EQ(d.messages, std::vector<std::string>{"/m:1: cannot compare command using .OODATE"});
}

TEST_F(CommandCheckTest, CmpFilterComparesFilteredTexts) {
  options_.cmp_filter = "C/-O[0-9]//";
  EXPECT_FALSE(Check("CMD cc -O1 -c a.c\nCWD /\n", {{{"cc -O2 -c a.c"}}}).out_of_date);
  EXPECT_TRUE(Check("CMD cc -O1 -c b.c\nCWD /\n", {{{"cc -O2 -c a.c"}}}).out_of_date);
}

TEST_F(CommandCheckTest, NoCmdCompareAndIgnoreCmd) {
  options_.no_cmd_compare = true;
  EXPECT_FALSE(Check("CMD a\nCWD /\n", {{{"b"}}}).out_of_date);
  options_.no_cmd_compare = false;
  options_.ignore_cmd = true;
  Decision d = Check("CMD a\nCWD /\n", {{{"b"}}});
  EXPECT_FALSE(d.out_of_date);
  EXPECT_EQ(d.messages.size(), 1u);
}

TEST_F(CommandCheckTest, CwdMustBeTheWorkingDirectory) {
  options_.curdir = "/src";
  Decision d = Check("CWD /elsewhere\n", absl::nullopt);
  EXPECT_EQ(d.reason, Reason::kCwdChanged);
  EXPECT_EQ(d.messages, std::vector<std::string>{
                            "/m:1: the current working directory has changed from '/elsewhere' "
                            "to '/src'"});
  EXPECT_EQ(Check("CWD\n", absl::nullopt).reason, Reason::kMalformed);
  EXPECT_EQ(Check("CWD \n", absl::nullopt).reason, Reason::kMalformed);
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
