#include "filemon/core/parser.h"

#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

std::vector<Record> ParseAll(Parser* parser, std::deque<std::string>* keep) {
  std::vector<Record> out;
  Record r;
  while (parser->Next(&r)) {
    // Escaped paths live in the parser's scratch until the next call: keep copies (a deque
    // never moves its elements).
    keep->emplace_back(r.path);
    r.path = keep->back();
    keep->emplace_back(r.path2);
    r.path2 = keep->back();
    out.push_back(r);
  }
  return out;
}

std::string Format(const std::vector<Record>& records) {
  std::string s;
  for (const Record& r : records) AppendRecord(r, &s);
  return s;
}

// Spec section 4 (a): FreeBSD current, v5 (Freaky/ruby-filemon README).
constexpr absl::string_view kFreeBsdV5 =
    "# filemon version 5\n"
    "# Target pid 53942\n"
    "# Start 1497269126.786684\n"
    "V 5\n"
    "E 65204 /bin/sleep\n"
    "R 65204 /etc/libmap.conf\n"
    "R 65204 /usr/local/etc/libmap.d\n"
    "R 65204 /var/run/ld-elf.so.hints\n"
    "R 65204 /lib/libc.so.7\n"
    "X 65204 0 0\n"
    "# Stop 1497269127.857683\n"
    "# Bye bye\n";

TEST(Parser, FreeBsdV5ExampleRoundTripsByteForByte) {
  Parser parser(kFreeBsdV5, {});
  std::deque<std::string> keep;
  std::vector<Record> records = ParseAll(&parser, &keep);
  ASSERT_TRUE(parser.ok()) << parser.status();
  ASSERT_EQ(records.size(), 12u);
  EXPECT_EQ(records[0].kind, RecordKind::kHeaderVersion);
  EXPECT_EQ(records[1].pid, 53942);
  EXPECT_EQ(records[4], Record::Path(RecordKind::kExec, 65204, "/bin/sleep"));
  EXPECT_EQ(records[9], Record::Exit(65204, 0, 0));
  EXPECT_EQ(Format(records), kFreeBsdV5);
  EXPECT_EQ(parser.variant(), LogVariant::kFreeBsdV5);
  EXPECT_EQ(parser.version(), 5);
  EXPECT_FALSE(parser.truncated());
}

TEST(Parser, OnePathRecordsKeepSpacesAndAreZeroCopy) {
  const std::string log = "R 7 /a b/c d \n";
  Parser parser(log, {});
  Record r;
  ASSERT_TRUE(parser.Next(&r));
  EXPECT_EQ(r.path, "/a b/c d ");
  EXPECT_GE(r.path.data(), log.data());
  EXPECT_LT(r.path.data(), log.data() + log.size());
}

TEST(Parser, StrictErrorNamesFileLineColumnAndExpectation) {
  ParserOptions options;
  options.filename = "f.log";
  const std::string log = "R 1 /a\nF 1 x\nR 2 /b\n";
  Parser parser(log, options);
  Record r;
  ASSERT_TRUE(parser.Next(&r));
  EXPECT_FALSE(parser.Next(&r));
  EXPECT_FALSE(parser.ok());
  EXPECT_EQ(parser.status().message(), "f.log:2:5: expected the child pid");
}

TEST(Parser, LenientSkipsAndCountsBadLines) {
  ParserOptions options;
  options.strict = false;
  const std::string log = "R 1 /a\nQ 1 x\nX 1\nR 2 /b\n";
  Parser parser(log, options);
  std::deque<std::string> keep;
  std::vector<Record> records = ParseAll(&parser, &keep);
  EXPECT_TRUE(parser.ok());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(parser.skipped_lines(), 2u);
  EXPECT_EQ(parser.first_skipped_error().message(),
            "-:2:1: expected a record letter (one of ACDEFLMRSWXV) or '#'");
}

TEST(Parser, TruncatedLastLineIsReportedNotAnError) {
  Parser a("R 1 /a\nR 2 /b", {});
  std::deque<std::string> keep;
  EXPECT_EQ(ParseAll(&a, &keep).size(), 2u);
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(a.truncated());
  // A cut that leaves an incomplete record drops only that record.
  Parser b("R 1 /a\nX 2", {});
  EXPECT_EQ(ParseAll(&b, &keep).size(), 1u);
  EXPECT_TRUE(b.ok());
  EXPECT_TRUE(b.truncated());
}

}  // namespace
}  // namespace filemon
