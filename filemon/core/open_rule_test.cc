// The FreeBSD open rule (open_rule.h): the records an open's flags give.

#include "filemon/core/open_rule.h"

#include <fcntl.h>

#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace {

std::string Records(uint64_t flags) {
  std::string s;
  ForEachOpenRecord(flags, [&](OpenRecord r) { s += r == OpenRecord::kRead ? 'R' : 'W'; });
  return s;
}

TEST(OpenRule, OnlyTheAccessModeCounts) {
  struct Case {
    const char* name;
    uint64_t flags;
    const char* records;
  };
  const Case kCases[] = {
      {"O_RDONLY", O_RDONLY, "R"},
      {"O_WRONLY", O_WRONLY, "W"},
      {"O_RDWR", O_RDWR, "RW"},
      {"O_RDONLY|O_CREAT", O_RDONLY | O_CREAT, "R"},
      {"O_RDONLY|O_TRUNC", O_RDONLY | O_TRUNC, "R"},
      {"O_WRONLY|O_CREAT|O_TRUNC (creat)", O_WRONLY | O_CREAT | O_TRUNC, "W"},
      {"O_WRONLY|O_CREAT|O_APPEND (fopen a)", O_WRONLY | O_CREAT | O_APPEND, "W"},
      {"O_RDWR|O_CREAT|O_EXCL (mkstemp)", O_RDWR | O_CREAT | O_EXCL, "RW"},
      {"O_RDONLY|O_DIRECTORY|O_CLOEXEC", O_RDONLY | O_DIRECTORY | O_CLOEXEC, "R"},
      {"O_WRONLY|O_RDWR (invalid mode 3)", O_WRONLY | O_RDWR, "RW"},
      {"O_RDWR|high bits (openat2's 64-bit flags)", O_RDWR | (uint64_t{1} << 40), "RW"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Records(c.flags), c.records);
  }
}

TEST(OpenRule, RecordsAreKnownAtCompileTime) {
  static_assert(OpenRecordsOf(O_RDWR).count == 2, "O_RDWR gives R then W");
  static_assert(OpenRecordsOf(O_WRONLY | O_CREAT).kinds[0] == OpenRecord::kWrite, "W");
  EXPECT_EQ(OpenRecordsOf(O_RDONLY).count, 1);
}

}  // namespace
}  // namespace filemon
