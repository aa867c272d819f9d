// Whether a program exec'd now could load the interposer (untraced.h): checked with the
// effective user, as the loader opens the library.

#include "filemon/backends/preload/untraced.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

std::string TempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string dir = std::string(base != nullptr ? base : "/tmp") + "/untraced_XXXXXX";
  return mkdtemp(&dir[0]) != nullptr ? dir : "";
}

// A readable file in a directory of mode 0700 (owned by this process's user); "" on failure.
std::string LibraryOnlyRootReaches() {
  const std::string dir = TempDir();
  if (dir.empty() || chmod(dir.c_str(), 0700) != 0) return "";
  const std::string lib = dir + "/lib.so";
  const int fd = open(lib.c_str(), O_CREAT | O_WRONLY, 0644);
  if (fd < 0) return "";
  close(fd);
  return lib;
}

// The exit status a child gives when this host cannot set up what the test needs (a second
// user, capabilities): the test is skipped rather than failed.
constexpr int kCannotSetUp = 2;

// Runs `body` in a forked child that exits with what `body` returns, and gives that status;
// -1 when the child could not be forked or reaped, or did not exit by itself (a crash).
template <typename Body>
int ExitStatusInChild(Body body) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) _exit(body());
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(LibraryAccessError, ReadableMissingAndNone) {
  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  const std::string lib = dir + "/lib.so";
  const int fd = open(lib.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(LibraryAccessError(lib.c_str()), 0);
  EXPECT_EQ(LibraryAccessError((dir + "/missing.so").c_str()), ENOENT);
  EXPECT_EQ(LibraryAccessError(""), 0);
  EXPECT_EQ(LibraryAccessError(nullptr), 0);
}

// A process that became another user (only its effective user, as a set-user-ID program's
// child would) cannot reach a library under root's private directory, although its real user
// still could.
TEST(LibraryAccessError, TheEffectiveUserDecides) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become a second user (setresuid)";
  const std::string lib = LibraryOnlyRootReaches();
  ASSERT_FALSE(lib.empty());
  const int status = ExitStatusInChild([&] {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(-1, 65534, -1) != 0) return kCannotSetUp;
    if (access(lib.c_str(), R_OK) != 0) return 3;  // the real user (root) may
    return LibraryAccessError(lib.c_str()) == EACCES ? 0 : 4;
  });
  if (status == kCannotSetUp) GTEST_SKIP() << "cannot become user 65534 here";
  EXPECT_EQ(status, 0) << "3: access() failed for the real user; 4: not EACCES";
}

// In a child: becomes user 65534 keeping root's capabilities, effective again (as setpriv
// does until its exec), with `inheritable` added to the inheritable set. False on failure.
bool BecomeUserWithCapabilities(uint32_t inheritable) {
  if (prctl(PR_SET_KEEPCAPS, 1) != 0 || setresgid(65534, 65534, 65534) != 0 ||
      setresuid(65534, 65534, 65534) != 0) {
    return false;
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (auto& d : data) d.effective = d.permitted;
  data[0].inheritable |= inheritable;
  return syscall(SYS_capset, &header, data) == 0;
}

// setpriv's case: a process that became user 65534 but kept its capabilities (effective
// again, until its exec) can read the library now; the program it execs will not.
TEST(LibraryAccessError, CapabilitiesThatTheExecDropsDoNotCount) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become a second user with capabilities";
  const std::string lib = LibraryOnlyRootReaches();
  ASSERT_FALSE(lib.empty());
  const int status = ExitStatusInChild([&] {
    if (!BecomeUserWithCapabilities(/*inheritable=*/0)) return kCannotSetUp;
    const int readable = open(lib.c_str(), O_RDONLY);  // the capabilities still open it
    if (readable < 0) return 3;
    close(readable);
    if (LibraryAccessError(lib.c_str()) != EACCES) return 4;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0 || data[0].effective == 0) return 5;
    return 0;
  });
  if (status == kCannotSetUp) GTEST_SKIP() << "cannot keep capabilities as user 65534 here";
  EXPECT_EQ(status, 0)
      << "3: the capabilities did not read it; 4: not EACCES; 5: capabilities not restored";
}

// An ambient capability survives the exec: one that reads any file lets the loader read the
// library, so the check says so too.
TEST(LibraryAccessError, AnAmbientCapabilityCounts) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become a second user with capabilities";
  const std::string lib = LibraryOnlyRootReaches();
  ASSERT_FALSE(lib.empty());
  const int status = ExitStatusInChild([&] {
    if (!BecomeUserWithCapabilities(1u << CAP_DAC_READ_SEARCH) ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0) != 0) {
      return kCannotSetUp;
    }
    return LibraryAccessError(lib.c_str()) == 0 ? 0 : 3;
  });
  if (status == kCannotSetUp) GTEST_SKIP() << "cannot raise an ambient capability here";
  EXPECT_EQ(status, 0) << "the ambient capability was not counted";
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
