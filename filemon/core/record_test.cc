#include "filemon/core/record.h"

#include "gtest/gtest.h"

namespace filemon {
namespace {

struct LetterCase {
  char letter;
  RecordKind kind;
  bool has_path;
  bool two_paths;
};

constexpr LetterCase kLetters[] = {
    {'A', RecordKind::kAt, true, false},       {'C', RecordKind::kChdir, true, false},
    {'D', RecordKind::kDelete, true, false},   {'E', RecordKind::kExec, true, false},
    {'F', RecordKind::kFork, false, false},    {'L', RecordKind::kLink, true, true},
    {'M', RecordKind::kMove, true, true},      {'R', RecordKind::kRead, true, false},
    {'S', RecordKind::kStat, true, false},     {'W', RecordKind::kWrite, true, false},
    {'X', RecordKind::kExit, false, false},    {'V', RecordKind::kVersion, false, false},
    {'N', RecordKind::kNotFound, true, false},
};

TEST(RecordKind, LettersRoundTrip) {
  for (const LetterCase& c : kLetters) {
    SCOPED_TRACE(std::string(1, c.letter));
    RecordKind kind;
    ASSERT_TRUE(RecordKindFromLetter(c.letter, &kind));
    EXPECT_EQ(kind, c.kind);
    EXPECT_EQ(RecordLetter(kind), c.letter);
    EXPECT_EQ(HasPath(kind), c.has_path);
    EXPECT_EQ(HasTwoPaths(kind), c.two_paths);
  }
}

TEST(RecordKind, OtherBytesAreNotLetters) {
  RecordKind kind;
  for (int b = 0; b < 256; ++b) {
    bool is_letter = false;
    for (const LetterCase& c : kLetters) is_letter |= (c.letter == b);
    EXPECT_EQ(RecordKindFromLetter(static_cast<char>(b), &kind), is_letter) << b;
  }
}

TEST(Record, EqualityComparesContentOfViews) {
  std::string a = "/etc/motd", b = "/etc/motd";
  EXPECT_EQ(Record::Path(RecordKind::kRead, 1, a), Record::Path(RecordKind::kRead, 1, b));
  EXPECT_NE(Record::Path(RecordKind::kRead, 1, a), Record::Path(RecordKind::kWrite, 1, b));
  EXPECT_NE(Record::Path(RecordKind::kRead, 1, a), Record::Path(RecordKind::kRead, 2, b));
  EXPECT_NE(Record::TwoPaths(RecordKind::kMove, 1, "a", "b"),
            Record::TwoPaths(RecordKind::kMove, 1, "a", "c"));
  EXPECT_EQ(Record::Exit(5, 0, 9), Record::Exit(5, 0, 9));
  EXPECT_NE(Record::Exit(5, 0, 9), Record::Exit(5, 0, 0));
  EXPECT_EQ(Record::Fork(1, 2), Record::Fork(1, 2));
  EXPECT_NE(Record::Fork(1, 2), Record::Fork(1, 3));
}

}  // namespace
}  // namespace filemon
