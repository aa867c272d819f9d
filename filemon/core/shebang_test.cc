// ShebangInterpreter() (shebang.h): the interpreter of a `#!` line, case by case, and checked
// against the running kernel's own reading of the same files.

#include "filemon/core/shebang.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "filemon/core/test_child.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using std::string_literals::operator""s;

// The interpreter ShebangInterpreter finds in `bytes`, or "-" when it finds none.
std::string Interpreter(const std::string& bytes) {
  const char* name = nullptr;
  size_t length = 0;
  if (!ShebangInterpreter(bytes.data(), bytes.size(), &name, &length)) return "-";
  return std::string(name, length);
}

const std::string kLongName = "/nonexistent/" + std::string(300, 'x');

struct Case {
  const char* what;
  std::string bytes;
  std::string want;  // "-": not a script
};

// Every interpreter named here is absent, so that an exec of the file tells whether the kernel
// took it as a script (ENOENT; an empty name fails as the kernel's version has it) or not
// (ENOEXEC).
const Case kCases[] = {
    {"plain", "#!/nonexistent/sh\necho\n", "/nonexistent/sh"},
    {"blanks before the name", "#! \t/nonexistent/sh -e\n", "/nonexistent/sh"},
    {"argument after a tab", "#!/nonexistent/sh\t-x\n", "/nonexistent/sh"},
    {"trailing blanks", "#!/nonexistent/sh  \n", "/nonexistent/sh"},
    {"no newline", "#!/nonexistent/sh", "/nonexistent/sh"},
    {"NUL ends the name", "#!/nonexistent/sh\0tail\n"s, "/nonexistent/sh"},
    {"carriage return is part of the name", "#!/nonexistent/sh\r\n", "/nonexistent/sh\r"},
    {"no name", "#!\n", "-"},
    {"only blanks", "#!  \t \n", "-"},
    {"only blanks, no newline: an empty name", "#!   ", ""},
    {"bare #!: an empty name", "#!", ""},
    {"NUL after the blanks: an empty name", "#! \0/bin/sh\n"s, ""},
    {"not a script", "echo hi\n", "-"},
    {"one byte", "#", "-"},
    {"name cut off by the buffer", "#!" + kLongName + "\n", "-"},
    {"name ends in the buffer, line goes on", "#!/nonexistent/sh " + std::string(300, 'a'),
     "/nonexistent/sh"},
    {"name ends at the buffer's last byte",
     "#!" + kLongName.substr(0, kShebangBufferSize - 3) + " " + std::string(10, 'a'),
     kLongName.substr(0, kShebangBufferSize - 3)},
};

TEST(ShebangInterpreter, Cases) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(Interpreter(c.bytes), c.want);
  }
}

TEST(ShebangInterpreter, ReadsOnlyTheBufferAndNothingPastSize) {
  // A newline past the kernel's buffer does not end the line.
  const std::string beyond = "#!" + kLongName + "\n";
  ASSERT_GT(beyond.find('\n'), kShebangBufferSize);
  EXPECT_EQ(Interpreter(beyond), "-");
  // Bytes past `size` are not the file's.
  const std::string text = "#!/bin/sh\n";
  const char* name = nullptr;
  size_t length = 0;
  ASSERT_TRUE(ShebangInterpreter(text.data(), 5, &name, &length));
  EXPECT_EQ(std::string(name, length), "/bi");
}

// The errno of an execve of `path` in a child.
int ExecError(const std::string& path) {
  return ExitCodeOfChild([&] {
    char* const argv[] = {const_cast<char*>(path.c_str()), nullptr};
    char* const envp[] = {nullptr};
    execve(path.c_str(), argv, envp);
    return errno;
  });
}

TEST(ShebangInterpreter, AgreesWithTheKernel) {
  const char* base = getenv("TEST_TMPDIR");
  const std::string dir = std::string(base != nullptr ? base : "/tmp") + "/shebang";
  mkdir(dir.c_str(), 0755);
  int i = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    const std::string path = dir + "/case" + std::to_string(i++);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << c.bytes;
    ASSERT_EQ(chmod(path.c_str(), 0755), 0);
    const int error = ExecError(path);
    if (c.want == "-") {
      EXPECT_EQ(error, ENOEXEC);
    } else if (c.want.empty()) {  // no program of that name, but which error is the kernel's
      EXPECT_TRUE(error == ENOENT || error == EACCES) << error;
    } else {
      EXPECT_EQ(error, ENOENT);
    }
  }
}

}  // namespace
}  // namespace filemon
