// A filemon line's fields as bmake's meta_oodate() cuts them, and the fast reading of the
// common "R pid /path" shape, which must agree with the general one.

#include "filemon/meta/filemon_fields.h"

#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

struct FieldsCase {
  const char* line;
  bool has_after_key;
  int pid;
  bool has_arg;
  const char* arg;
};

constexpr FieldsCase kFieldsCases[] = {
    {"R 1234 /a b", true, 1234, true, "/a b"},
    {"R 0012 rel", true, 12, true, "rel"},
    {"R 1234567890 /a", true, 1234567890, true, "/a"},    // ten digits: atoi()
    {"R 99999999999 /a", true, 1215752191, true, "/a"},   // a long, cut to an int
    {"R 99999999999999999999 /a", true, -1, true, "/a"},  // strtol saturates, int cuts
    {"R 18446744073709551623 /a", true, -1, true, "/a"},  // 2^64 + 7 does not wrap to 7
    {"R -99999999999999999999 /a", true, 0, true, "/a"},  // LONG_MIN, cut to an int
    {"R -5 /a", true, -5, true, "/a"},
    {"R 12x /a", true, 12, true, "/a"},
    {"R x /a", true, 0, true, "/a"},
    {"R 1234", true, 1234, false, ""},
    {"R 1234 ", true, 1234, true, ""},
    {"R", false, 0, false, ""},
    {"R ", true, 0, false, ""},
    {"Rx 7 /a", true, 7, true, "/a"},  // the key is the first byte, p follows the first ' '
    {"# filemon version 5", true, 0, true, "filemon version 5"},
    {"V 5", true, 0, true, "5"},
    {"#", false, 0, false, ""},
};

TEST(FieldsFromLine, CutsAsBmakeDoes) {
  for (const FieldsCase& c : kFieldsCases) {
    SCOPED_TRACE(c.line);
    Fields f;
    FieldsFromLine(c.line, &f);
    EXPECT_EQ(f.key, c.line[0]);
    EXPECT_EQ(f.has_after_key, c.has_after_key);
    EXPECT_EQ(f.pid, c.pid);
    EXPECT_EQ(f.has_arg, c.has_arg);
    EXPECT_EQ(f.arg, c.arg);
  }
}

TEST(ReadQuick, AgreesWithFieldsFromLineWhereItApplies) {
  const char* const kLines[] = {
      "R 1234 /a b", "E 1 /bin/sh", "R 123456789 /a", "R 1234567890 /a",
      "R 12 rel",    "R 12  /a",    "R 12 /",         "R x /a",
      "W 12 /a",     "R 12",        "R  12 /a",       "E 0 /a",
  };
  for (const char* text : kLines) {
    SCOPED_TRACE(text);
    const std::string data = std::string(text) + "\nnext\n";
    QuickLine q;
    if (!ReadQuick(data.data(), 0, data.size(), &q)) continue;
    Fields f;
    FieldsFromLine(text, &f);
    EXPECT_EQ(q.key, f.key);
    EXPECT_EQ(q.pid, f.pid);
    EXPECT_EQ(q.path, f.arg);
    EXPECT_EQ(q.next, data.size() - 5);
  }
}

TEST(ReadQuick, TakesOnlyTheCommonShape) {
  struct Case {
    const char* data;
    bool quick;
  };
  const Case kCases[] = {
      {"R 1234 /a\n", true},        {"E 1 /a\n", true},   {"R 123456789 /a\n", true},
      {"R 1234 /a", false},          // no '\n': the general path reports the truncation
      {"R 1234567890 /a\n", false},  // ten digits: atoi() decides
      {"R 12 rel\n", false},        {"W 12 /a\n", false}, {"R 12\n", false},
      {"R x /a\n", false},          {"R 12 /\n", true},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.data);
    const std::string data = c.data;
    QuickLine q;
    EXPECT_EQ(ReadQuick(data.data(), 0, data.size(), &q), c.quick);
  }
}

TEST(ReadQuick, LeavesALineThatMayGrowBmakesBufferToTheGeneralPath) {
  const std::string fits = "R 1 /" + std::string(kBmakeFirstBuffer - 7, 'a') + "\n";
  const std::string grows = "R 1 /" + std::string(kBmakeFirstBuffer - 6, 'a') + "\n";
  QuickLine q;
  EXPECT_TRUE(ReadQuick(fits.data(), 0, fits.size(), &q));
  EXPECT_FALSE(ReadQuick(grows.data(), 0, grows.size(), &q));
}

TEST(SplitTwoPaths, UnquotesAndRefusesAMissingSecondPath) {
  Fields f;
  absl::string_view src, dst;
  FieldsFromLine("M 1 'a b' 'c'", &f);
  // bmake cuts at the first ' ' before unquoting: "'a" and "b' 'c'" (no leading quote).
  ASSERT_TRUE(SplitTwoPaths(f, &src, &dst));
  EXPECT_EQ(src, "a");
  EXPECT_EQ(dst, "b' 'c'");
  FieldsFromLine("L 1 '/x' '/y'", &f);
  ASSERT_TRUE(SplitTwoPaths(f, &src, &dst));
  EXPECT_EQ(src, "/x");
  EXPECT_EQ(dst, "/y");
  FieldsFromLine("M 1 /x", &f);
  EXPECT_FALSE(SplitTwoPaths(f, &src, &dst));
  FieldsFromLine("M 1 /x ", &f);
  EXPECT_FALSE(SplitTwoPaths(f, &src, &dst));
}

TEST(Dequote, DropsALeadingQuoteAndCutsAtTheNext) {
  EXPECT_EQ(Dequote("'a'b"), "a");
  EXPECT_EQ(Dequote("'ab"), "ab");
  EXPECT_EQ(Dequote("a'b'"), "a'b'");
  EXPECT_EQ(Dequote(""), "");
}

}  // namespace
}  // namespace internal
}  // namespace meta
}  // namespace filemon
