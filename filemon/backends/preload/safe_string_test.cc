// The interposer's string helpers (safe_string.h): environment lookups, numbers, copies.

#include "filemon/backends/preload/safe_string.h"

#include <climits>
#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

TEST(SafeString, LengthAndStartsWith) {
  EXPECT_EQ(Length(""), 0u);
  EXPECT_EQ(Length("abc"), 3u);
  EXPECT_TRUE(StartsWith("LD_PRELOAD=x", "LD_PRELOAD="));
  EXPECT_TRUE(StartsWith("abc", ""));
  EXPECT_FALSE(StartsWith("LD_PRELOA", "LD_PRELOAD"));
}

TEST(SafeString, SameString) {
  EXPECT_TRUE(SameString("", ""));
  EXPECT_TRUE(SameString("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"));
  EXPECT_FALSE(SameString("/lib64/ld", "/lib64/ld-linux-x86-64.so.2"));
  EXPECT_FALSE(SameString("/lib64/ld-linux-x86-64.so.2", "/lib64/ld"));
  EXPECT_FALSE(SameString("a", ""));
  EXPECT_FALSE(SameString("", "a"));
  EXPECT_FALSE(SameString("abc", "abd"));
}

TEST(SafeString, EnvValuesTakesTheFirstEntryOfEachName) {
  char e0[] = "PATHX=no", e1[] = "PATH=/bin", e2[] = "HOME=/h", e3[] = "PATH=/second", e4[] = "P";
  char* envp[] = {e0, e1, e2, e3, e4, nullptr};
  const char* names[] = {"PATH", "HOME", "SHELL", "P"};
  const char* values[4];
  EnvValues(envp, names, 4, values);
  EXPECT_STREQ(values[0], "/bin");
  EXPECT_STREQ(values[1], "/h");
  EXPECT_EQ(values[2], nullptr);
  EXPECT_EQ(values[3], nullptr);  // "P" without '=' is no entry of P
  EXPECT_STREQ(EnvValue(envp, "HOME"), "/h");
  EXPECT_EQ(EnvValue(nullptr, "HOME"), nullptr);
}

TEST(SafeString, EmptyValueIsNotAbsent) {
  char e0[] = "LD_PRELOAD=";
  char* envp[] = {e0, nullptr};
  ASSERT_NE(EnvValue(envp, "LD_PRELOAD"), nullptr);
  EXPECT_STREQ(EnvValue(envp, "LD_PRELOAD"), "");
}

TEST(SafeString, CountEntries) {
  char a[] = "a";
  char* v[] = {a, a, a, nullptr};
  EXPECT_EQ(CountEntries(v), 3u);
  EXPECT_EQ(CountEntries(nullptr), 0u);
}

TEST(SafeString, FormatUnsigned) {
  char out[24];
  EXPECT_EQ(std::string(out, FormatUnsigned(0, out)), "0");
  EXPECT_EQ(std::string(out, FormatUnsigned(4096, out)), "4096");
  EXPECT_EQ(std::string(out, FormatUnsigned(ULONG_MAX, out)), std::to_string(ULONG_MAX));
}

TEST(SafeString, ParseIntAcceptsOnlyWholeNumbersThatFit) {
  struct Case {
    const char* text;
    bool ok;
    long value;
  };
  const Case kCases[] = {
      {"0", true, 0},
      {"17", true, 17},
      {"9223372036854775807", true, LONG_MAX},
      {"9223372036854775808", false, 0},  // LONG_MAX + 1
      {"99999999999999999999", false, 0},
      {"", false, 0},
      {nullptr, false, 0},
      {"-1", false, 0},
      {"12a", false, 0},
      {" 1", false, 0},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text == nullptr ? "(null)" : c.text);
    long value = -7;
    EXPECT_EQ(ParseInt(c.text, &value), c.ok);
    EXPECT_EQ(value, c.ok ? c.value : -7);
  }
}

TEST(SafeString, CopyStringCutsToFit) {
  char out[4];
  CopyString("ab", out, sizeof(out));
  EXPECT_STREQ(out, "ab");
  CopyString("abcdef", out, sizeof(out));
  EXPECT_STREQ(out, "abc");
}

TEST(SafeString, FdLinkPath) {
  char out[kFdLinkSize];
  FdLinkPath(0, out);
  EXPECT_STREQ(out, "/proc/self/fd/0");
  FdLinkPath(INT_MAX, out);
  EXPECT_EQ(std::string(out), "/proc/self/fd/" + std::to_string(INT_MAX));
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
