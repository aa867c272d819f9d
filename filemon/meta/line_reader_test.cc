// The .meta line reader: plain lines, and a NUL byte as bmake's fgetLine() + strlen() read it.

#include "filemon/meta/line_reader.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

std::vector<std::string> Texts(absl::string_view data) {
  LineReader reader(data);
  std::vector<std::string> out;
  MetaLine line;
  while (reader.Next(&line)) out.emplace_back(line.text);
  return out;
}

// Lines of `n` bytes each (including the '\n') until `size` bytes.
std::string Padding(size_t size) {
  std::string out;
  while (out.size() < size) out += std::string(63, 'p') + "\n";
  return out;
}

size_t RoundUpToBufsiz(size_t n) { return (n + 8191) / 8192 * 8192; }

TEST(LineReader, SplitsLinesAndMarksTheLastOneIncomplete) {
  LineReader reader("ab\n\ncd");
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "ab");
  EXPECT_TRUE(line.complete);
  EXPECT_EQ(line.read_length, 3u);
  EXPECT_EQ(line.start, 0u);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "");
  EXPECT_TRUE(line.complete);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "cd");
  EXPECT_FALSE(line.complete);
  EXPECT_EQ(line.read_length, 2u);
  EXPECT_EQ(line.start, 4u);
  EXPECT_FALSE(reader.Next(&line));
}

TEST(LineReader, SeekRereadsALine) {
  LineReader reader("one\ntwo\n");
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line));
  const size_t second = reader.pos();
  ASSERT_TRUE(reader.Next(&line));
  reader.Seek(second);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "two");
}

TEST(LineReader, NulInASmallFileCutsTheLineWithoutItsNewline) {
  const std::string data("CMD a\0b\nCWD /x\n", 15);
  LineReader reader(data);
  EXPECT_TRUE(reader.has_nul());
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "CMD a");
  EXPECT_FALSE(line.complete);  // bmake: "line truncated at 5"
  EXPECT_EQ(line.read_length, 5u);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "CWD /x");
  EXPECT_TRUE(reader.TakeNotes().empty());
}

TEST(LineReader, LineStartingWithNulEndsTheReading) {
  EXPECT_EQ(Texts(std::string("a\n\0b\nc\n", 7)), std::vector<std::string>{"a"});
}

TEST(LineReader, NulInALargeFileGluesTheNextLineAndGrowsTheBufferOnce) {
  std::string data("R 1 /a\0junk\nR 1 /b\n", 19);
  data += Padding(200 << 10);
  data += std::string("R 2 /c\0more\nR 2 /d\n", 19);
  data += std::string("R 3 /e\0x\nR 3 /f\n", 16);
  const size_t half = RoundUpToBufsiz(data.size() / 2);
  const size_t whole = RoundUpToBufsiz(data.size());
  LineReader reader(data);
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "R 1 /aR 1 /b");
  EXPECT_TRUE(line.complete);
  EXPECT_EQ(reader.TakeNotes(),
            std::vector<std::string>{absl::StrCat("growing buffer 65536 -> ", half)});
  while (reader.Next(&line) && line.text[0] == 'p') {
  }
  // The buffer kept its size: the second NUL grows it to the whole file.
  EXPECT_EQ(line.text, "R 2 /cR 2 /d");
  EXPECT_EQ(reader.TakeNotes(),
            std::vector<std::string>{absl::StrCat("growing buffer ", half, " -> ", whole)});
  // No more growth possible: the third keeps the text before its NUL, without a '\n'.
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "R 3 /e");
  EXPECT_FALSE(line.complete);
  EXPECT_TRUE(reader.TakeNotes().empty());
}

TEST(LineReader, LongLineGrowsTheBufferOnce) {
  const std::string long_line(70000, 'x');
  const std::string data = long_line + "\n" + long_line + "\n" + Padding(100 << 10);
  LineReader reader(data);
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, long_line);
  EXPECT_TRUE(line.complete);
  EXPECT_EQ(reader.TakeNotes(), std::vector<std::string>{absl::StrCat(
                                    "growing buffer 65536 -> ", RoundUpToBufsiz(data.size() / 2))});
  ASSERT_TRUE(reader.Next(&line));  // fits the grown buffer
  EXPECT_EQ(line.text, long_line);
  EXPECT_FALSE(reader.has_notes());
}

TEST(LineReader, LastLineWithoutNewlineInALargeFileTriesToGrow) {
  const std::string data = Padding(100 << 10) + "R 1 /a";
  LineReader reader(data);
  MetaLine line;
  while (reader.Next(&line) && line.complete) {
  }
  EXPECT_EQ(line.text, "R 1 /a");
  EXPECT_FALSE(line.complete);
  EXPECT_EQ(reader.TakeNotes(), std::vector<std::string>{absl::StrCat(
                                    "growing buffer 65536 -> ", RoundUpToBufsiz(data.size()))});
}

TEST(LineReader, AfterAnOffsetALineStartingWithNulIsCompleteAndEmpty) {
  const std::string data("\0abc\nnext\n", 10);
  LineReader reader(data);
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line, /*offset=*/12));
  EXPECT_EQ(line.text, "");
  EXPECT_EQ(line.read_length, 0u);
  EXPECT_TRUE(line.complete);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "next");
  LineReader again(data);
  EXPECT_FALSE(again.Next(&line));  // at offset 0: bmake's fgetLine() returns 0
}

TEST(LineReader, AfterAnOffsetALineThatNoLongerFitsGrowsTheBuffer) {
  const std::string data = "short\n" + Padding(100 << 10);  // half of it fits 64 KiB
  LineReader reader(data);
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line, /*offset=*/kBmakeFirstBuffer - 4));
  EXPECT_EQ(line.text, "short");
  EXPECT_TRUE(line.complete);
  EXPECT_EQ(reader.TakeNotes(), std::vector<std::string>{absl::StrCat(
                                    "growing buffer 65536 -> ", RoundUpToBufsiz(data.size()))});
}

// Memory follows the text, not the file: a huge line that bmake reads in several pieces, or
// a file of NULs, is a view of the data, never a copy (a 300 MB .meta of NULs under a 400 MB
// address-space limit made `filemon-meta check` abort with std::bad_alloc).
TEST(LineReader, ALineReadInPiecesIsAViewOfTheData) {
  const std::string data = Padding(100 << 10) + std::string(70000, 'x');
  LineReader reader(data);
  MetaLine line;
  while (reader.Next(&line) && line.complete) {
  }
  EXPECT_EQ(line.text, std::string(70000, 'x'));
  EXPECT_FALSE(line.complete);
  EXPECT_EQ(line.text.data(), data.data() + line.start);
}

TEST(LineReader, ATextCutByANulInALargeFileIsAViewOfTheData) {
  std::string data = "R 1 /a";
  data.append(200 << 10, '\0');
  LineReader reader(data);
  MetaLine line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line.text, "R 1 /a");
  EXPECT_FALSE(line.complete);
  EXPECT_EQ(line.read_length, 6u);
  EXPECT_EQ(line.text.data(), data.data());
  EXPECT_EQ(reader.TakeNotes().size(), 2u);  // half the file, then the whole of it
}

TEST(FindNewline, FindsTheFirstNewlineAtEveryOffset) {
  for (size_t at = 0; at < 40; ++at) {
    std::string s(40, 'x');
    s[at] = '\n';
    if (at + 1 < s.size()) s[s.size() - 1] = '\n';
    EXPECT_EQ(FindNewline(s.data(), s.data() + s.size()), s.data() + at) << at;
    EXPECT_EQ(FindNewline(s.data(), s.data() + at), nullptr) << at;
  }
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
