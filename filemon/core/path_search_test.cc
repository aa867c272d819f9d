// execvp's search of PATH (path_search.h): the candidates, their order, and what is skipped.

#include "filemon/core/path_search.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace {

std::vector<std::string> Candidates(const char* search, const char* file, size_t size = 4096) {
  std::vector<std::string> out;
  std::string buffer(size, '\0');
  EXPECT_TRUE(ForEachSearchCandidate(search, file, &buffer[0], size, [&](const char* path) {
    out.emplace_back(path);
    return true;
  }));
  return out;
}

TEST(PathSearch, EachDirectoryInOrder) {
  EXPECT_EQ(Candidates("/usr/local/bin:/usr/bin:/bin", "cc"),
            (std::vector<std::string>{"/usr/local/bin/cc", "/usr/bin/cc", "/bin/cc"}));
}

TEST(PathSearch, EmptyDirectoryIsTheCurrentOne) {
  EXPECT_EQ(Candidates(":/bin:", "prog"), (std::vector<std::string>{"prog", "/bin/prog", "prog"}));
  EXPECT_EQ(Candidates("", "prog"), (std::vector<std::string>{"prog"}));
}

TEST(PathSearch, NoPathIsGlibcsDefault) {
  EXPECT_EQ(Candidates(nullptr, "sh"), (std::vector<std::string>{"/bin/sh", "/usr/bin/sh"}));
}

TEST(PathSearch, CandidateThatDoesNotFitIsSkipped) {
  const std::string long_dir = "/" + std::string(40, 'd');
  const std::string search = long_dir + ":/bin";
  // "/bin/prog" and its NUL fit in 12 bytes; the long directory's candidate does not.
  EXPECT_EQ(Candidates(search.c_str(), "prog", 12), (std::vector<std::string>{"/bin/prog"}));
}

TEST(PathSearch, StopsWhenAsked) {
  char buffer[64];
  std::vector<std::string> seen;
  EXPECT_FALSE(ForEachSearchCandidate("/a:/b:/c", "x", buffer, sizeof(buffer), [&](const char* p) {
    seen.emplace_back(p);
    return seen.size() < 2;
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"/a/x", "/b/x"}));
  EXPECT_STREQ(buffer, "/b/x");  // the candidate it stopped at
}

TEST(PathSearch, PathNames) {
  EXPECT_TRUE(IsPathName("./prog"));
  EXPECT_TRUE(IsPathName("/bin/sh"));
  EXPECT_TRUE(IsPathName("dir/prog"));
  EXPECT_FALSE(IsPathName("prog"));
}

}  // namespace
}  // namespace filemon
