#include "filemon/meta/test_dir.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

void MkdirP(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
  }
}

}  // namespace

TestDir::TestDir(absl::string_view name) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string raw = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  EXPECT_EQ(system(absl::StrCat("rm -rf '", raw, "'").c_str()), 0);
  MkdirP(raw);
  char buf[PATH_MAX];
  EXPECT_NE(realpath(raw.c_str(), buf), nullptr) << raw;
  path_ = buf;
}

std::string TestDir::operator/(absl::string_view rel) const {
  return absl::StrCat(path_, "/", rel);
}

void TestDir::Write(absl::string_view rel, absl::string_view text, time_t mtime) const {
  const std::string p = *this / rel;
  MkdirP(p.substr(0, p.rfind('/')));
  std::ofstream(p, std::ios::binary) << text;
  if (mtime != 0) SetMtime(rel, mtime);
}

void TestDir::Mkdir(absl::string_view rel, time_t mtime) const {
  MkdirP(*this / rel);
  if (mtime != 0) SetMtime(rel, mtime);
}

void TestDir::Symlink(absl::string_view rel, const std::string& to) const {
  EXPECT_EQ(symlink(to.c_str(), (*this / rel).c_str()), 0);
}

void TestDir::SetMtime(absl::string_view rel, time_t mtime) const {
  struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
  EXPECT_EQ(utimensat(AT_FDCWD, (*this / rel).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
}

}  // namespace meta
}  // namespace filemon
