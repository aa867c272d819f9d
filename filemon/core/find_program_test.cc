#include "filemon/core/find_program.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace {

std::string TmpDir(const std::string& name) {
  const char* base = getenv("TEST_TMPDIR");
  std::string dir = std::string(base != nullptr ? base : "/tmp") + "/" + name;
  mkdir(dir.c_str(), 0755);
  return dir;
}

void MakeFile(const std::string& path, mode_t mode) {
  std::ofstream(path) << "#!/bin/sh\n";
  chmod(path.c_str(), mode);
}

Command WithPath(const std::string& name, const char* path) {
  Command c;
  c.argv = {name};
  c.env = std::vector<std::string>{"HOME=/"};
  if (path != nullptr) c.env->push_back(std::string("PATH=") + path);
  return c;
}

TEST(FindProgram, NameWithASlashIsTakenAsIs) {
  absl::StatusOr<std::string> p = FindProgram(WithPath("./anything", "/nowhere"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "./anything");
}

// glibc's default, not the caller's PATH and not /usr/local/bin first (issue 18: ptrace and
// preload searched different defaults).
TEST(FindProgram, EnvironmentWithoutPathUsesGlibcsDefault) {
  const std::string dir = TmpDir("only_in_callers_path");
  MakeFile(dir + "/filemon_find_me", 0755);
  setenv("PATH", dir.c_str(), 1);
  EXPECT_EQ(FindProgram(WithPath("filemon_find_me", nullptr)).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::string> sh = FindProgram(WithPath("sh", nullptr));
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(*sh, "/bin/sh");
}

TEST(FindProgram, FirstExecutableEntryWinsAndDeniedIsSaid) {
  const std::string a = TmpDir("path_a"), b = TmpDir("path_b");
  MakeFile(a + "/prog", 0644);
  MakeFile(b + "/prog", 0755);
  const std::string both = a + ":" + b;
  absl::StatusOr<std::string> p = FindProgram(WithPath("prog", both.c_str()));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, b + "/prog");
  EXPECT_EQ(FindProgram(WithPath("prog", a.c_str())).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(FindProgram(WithPath("missing", both.c_str())).status().code(),
            absl::StatusCode::kNotFound);
}

// An empty or relative entry is relative to the command's directory, where the path is used.
TEST(FindProgram, RelativeEntriesAreSeenFromTheCommandsDirectory) {
  const std::string dir = TmpDir("cwd_of_command");
  mkdir((dir + "/bin").c_str(), 0755);
  MakeFile(dir + "/bin/tool", 0755);
  MakeFile(dir + "/here", 0755);
  Command c = WithPath("tool", "bin");
  c.cwd = dir;
  absl::StatusOr<std::string> tool = FindProgram(c);
  ASSERT_TRUE(tool.ok()) << tool.status();
  EXPECT_EQ(*tool, "bin/tool");
  Command empty = WithPath("here", ":/nowhere");
  empty.cwd = dir;
  absl::StatusOr<std::string> here = FindProgram(empty);
  ASSERT_TRUE(here.ok()) << here.status();
  EXPECT_EQ(*here, "./here");
}

// A script's missing interpreter is named, read as the kernel reads the "#!" line (shebang.h):
// a NUL ends the name.
TEST(DescribeFailedExec, NamesTheMissingInterpreterOfAScript) {
  const std::string dir = TmpDir("failed_exec");
  std::ofstream(dir + "/x.sh") << "#! /nonexistent/sh -e\n";
  std::ofstream(dir + "/nul.sh", std::ios::binary) << std::string("#!/nonexistent/sh\0x\n", 20);
  EXPECT_EQ(DescribeFailedExec(ENOENT, "./x.sh", dir),
            "execve(./x.sh): its interpreter /nonexistent/sh");
  EXPECT_EQ(DescribeFailedExec(ENOENT, dir + "/nul.sh", ""),
            "execve(" + dir + "/nul.sh): its interpreter /nonexistent/sh");
  // Not named: another error, an interpreter that exists, a program that is no script.
  EXPECT_EQ(DescribeFailedExec(EACCES, "./x.sh", dir), "execve(./x.sh)");
  MakeFile(dir + "/sh.sh", 0755);
  EXPECT_EQ(DescribeFailedExec(ENOENT, "./sh.sh", dir), "execve(./sh.sh)");
  EXPECT_EQ(DescribeFailedExec(ENOENT, "./absent", dir), "execve(./absent)");
}

}  // namespace
}  // namespace filemon
