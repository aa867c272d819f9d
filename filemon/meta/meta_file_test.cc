#include "filemon/meta/meta_file.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "filemon/core/log_reader.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

constexpr char kMeta[] =
    "# Meta data file /o/foo.meta\n"     // 1
    "CMD @echo one\n"                    // 2
    "CMD printf 'a\n"                    // 3
    "b'\n"                               // 4
    "CWD /o\n"                           // 5
    "TARGET foo\n"                       // 6
    "OODATE foo.c\n"                     // 7
    "ENV HOME=/root\n"                   // 8
    "-- command output --\n"             // 9
    "one\n"                              // 10
    "\n*** Error code 2(ignored)\n"      // 11-12
    "\n"                                 // 13
    "-- filemon acquired metadata --\n"  // 14
    "# filemon version 5\n"              // 15
    "V 5\n"                              // 16
    "R 10 /o/foo.c\n"                    // 17
    "R 10\n"                             // 18: malformed
    "M 10 'a' 'b'\n";                    // 19

TEST(ParseMetaFile, HeaderOutputAndFilemonSection) {
  const MetaFile m = ParseMetaFile(kMeta);
  EXPECT_EQ(m.meta_name.text, "/o/foo.meta");
  ASSERT_EQ(m.commands.size(), 2u);
  EXPECT_EQ(m.commands[0].text, "@echo one");
  EXPECT_EQ(m.commands[0].line, 2u);
  EXPECT_EQ(m.commands[1].text, "printf 'a\nb'");
  EXPECT_EQ(m.commands[1].line, 3u);
  EXPECT_EQ(m.cwd.text, "/o");
  EXPECT_EQ(m.cwd.line, 5u);
  EXPECT_EQ(m.target.text, "foo");
  EXPECT_EQ(m.oodate.text, "foo.c");
  ASSERT_EQ(m.env.size(), 1u);
  EXPECT_EQ(m.env[0].text, "HOME=/root");
  EXPECT_EQ(m.output.line, 10u);
  EXPECT_EQ(m.output.text, "one\n\n*** Error code 2(ignored)\n\n");
  ASSERT_TRUE(m.error_code.has_value());
  EXPECT_EQ(*m.error_code, 2);
  EXPECT_TRUE(m.error_ignored);
  EXPECT_TRUE(m.has_filemon);
  EXPECT_EQ(m.filemon.line, 15u);
}

TEST(ParseMetaFile, RecordsCarryMetaLineNumbers) {
  const MetaFile m = ParseMetaFile(kMeta);
  std::vector<std::string> seen;
  size_t skipped = 0;
  absl::Status s = ForEachFilemonRecord(
      m, "foo.meta", /*strict=*/false,
      [&](const Record& r, size_t line) {
        seen.push_back(absl::StrCat(line, ":", std::string(1, RecordLetter(r.kind)), ":", r.path));
      },
      &skipped);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(seen, (std::vector<std::string>{"15:#:filemon", "16:V:", "17:R:/o/foo.c", "19:M:a"}));
  s = ForEachFilemonRecord(m, "foo.meta", /*strict=*/true, [](const Record&, size_t) {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("foo.meta"), absl::string_view::npos) << s.message();
}

// A record longer than a line may be (a name of megabytes) is bad input in either mode, said as
// a stream reader says it, and neither it nor what follows reaches `fn`.
TEST(ParseMetaFile, ARecordLongerThanTheLineLimitEndsTheWalk) {
  const std::string data = absl::StrCat("-- filemon acquired metadata --\nR 1 /ok\nR 1 /",
                                        std::string(kMaxLineBytes + 1, 'a'), "\nR 1 /after\n");
  const MetaFile m = ParseMetaFile(data);
  for (const bool strict : {false, true}) {
    std::vector<std::string> seen;
    const absl::Status s = ForEachFilemonRecord(
        m, "x.meta", strict, [&](const Record& r, size_t) { seen.emplace_back(r.path); });
    EXPECT_EQ(s, LineTooLongError("x.meta", 3, kMaxLineBytes));
    EXPECT_EQ(s.message(), "x.meta: line 3 is longer than the limit of 1048576 bytes");
    EXPECT_EQ(seen, std::vector<std::string>{"/ok"});
  }
}

TEST(ParseMetaFile, BuildmonLineIsTheSectionsFirstLine) {
  const MetaFile m = ParseMetaFile("CMD x\n-- command output --\n# buildmon version 3\nV 3\n");
  EXPECT_TRUE(m.has_filemon);
  EXPECT_EQ(m.filemon.line, 3u);
  EXPECT_EQ(m.filemon.text, "# buildmon version 3\nV 3\n");
}

TEST(ParseMetaFile, AnythingParses) {
  for (const char* text : {"", "\n", "CMD", "-- filemon", "CWD \n-- command output --", "\0\n"}) {
    const MetaFile m = ParseMetaFile(text);
    EXPECT_EQ(m.data, text);
  }
  const MetaFile none = ParseMetaFile("CMD x\n");
  EXPECT_FALSE(none.has_filemon);
  EXPECT_TRUE(ForEachFilemonRecord(none, "x", true, [](const Record&, size_t) {}).ok());
}

}  // namespace
}  // namespace meta
}  // namespace filemon
