#include "filemon/core/log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

// A file holding `text`, opened for reading.
int FileWith(const std::string& text) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/log_reader_input");
  const int w = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_EQ(write(w, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(w);
  return open(path.c_str(), O_RDONLY);
}

// Every record's text (with its line number) read through `LogReader` + `Parser::Continue`.
std::vector<std::string> ParsePieces(int fd, size_t max_line, std::string* tail, size_t* pieces) {
  LogReader reader(fd, "in", max_line);
  Parser parser(absl::string_view(), {});
  std::vector<std::string> out;
  Record r;
  *pieces = 0;
  for (;;) {
    absl::StatusOr<absl::string_view> piece = reader.Next();
    EXPECT_TRUE(piece.ok()) << piece.status();
    if (!piece.ok() || piece->empty()) break;
    ++*pieces;
    parser.Continue(*piece);
    while (parser.Next(&r)) {
      std::string line;
      AppendRecord(r, &line);
      out.push_back(absl::StrCat(parser.line(), ":", line));
    }
  }
  *tail = std::string(parser.tail());
  return out;
}

TEST(LogReader, PiecesOfWholeLinesParseLikeTheWholeText) {
  std::string log = "# filemon version 5\n";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&log, "R ", i, " /some/path/", i, "\n");
  log += "# filemon escape\nR 7 a\\nb\n# Bye bye\nR 9 /etc/pas";
  std::string tail;
  size_t pieces = 0;
  // 64-byte lines at most: many pieces, lines and the escape marker split across reads.
  const std::vector<std::string> got = ParsePieces(FileWith(log), 64, &tail, &pieces);
  EXPECT_GT(pieces, 100u);
  Parser whole(log, {});
  std::vector<std::string> want;
  Record r;
  while (whole.Next(&r)) {
    std::string line;
    AppendRecord(r, &line);
    want.push_back(absl::StrCat(whole.line(), ":", line));
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(tail, "R 9 /etc/pas");
}

TEST(LogReader, ALineOverTheLimitIsAnErrorThatSaysSo) {
  const int fd = FileWith("R 1 /a\n" + std::string(200, 'x') + "\nR 2 /b\n");
  LogReader reader(fd, "big.log", 100);
  absl::StatusOr<absl::string_view> piece = reader.Next();
  ASSERT_TRUE(piece.ok());
  EXPECT_EQ(*piece, "R 1 /a\n");
  piece = reader.Next();
  ASSERT_FALSE(piece.ok());
  EXPECT_EQ(piece.status().message(), "big.log: line 2 is longer than the limit of 100 bytes");
  close(fd);
}

TEST(LogReader, DevZeroStopsAtTheLineLimit) {
  const int fd = open("/dev/zero", O_RDONLY);
  ASSERT_GE(fd, 0);
  LogReader reader(fd, "/dev/zero");
  absl::StatusOr<absl::string_view> piece = reader.Next();
  ASSERT_FALSE(piece.ok());
  EXPECT_EQ(piece.status().message(), absl::StrCat("/dev/zero: line 1 is longer than the limit of ",
                                                   kMaxLineBytes, " bytes"));
  std::string all;
  const absl::Status whole = ReadWholeStream(fd, "/dev/zero", 64 << 20, &all);
  EXPECT_EQ(whole.message(), absl::StrCat("/dev/zero: line 1 is longer than the limit of ",
                                          kMaxLineBytes, " bytes"));
  close(fd);
}

TEST(ReadWholeStream, ReadsAllAndCapsTheTotal) {
  const std::string text = "a\nbb\nccc";
  std::string out;
  int fd = FileWith(text);
  ASSERT_TRUE(ReadWholeStream(fd, "f", 1000, &out).ok());
  EXPECT_EQ(out, text);
  close(fd);
  std::string lines;
  for (int i = 0; i < 100000; ++i) lines += "line\n";
  fd = FileWith(lines);
  const absl::Status s = ReadWholeStream(fd, "f", 100000, &out);
  EXPECT_EQ(s.message(),
            "f: longer than the limit of 100000 bytes for input that is not a regular file");
  close(fd);
}

}  // namespace
}  // namespace filemon
