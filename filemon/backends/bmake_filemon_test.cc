// bmake's filemon API: the documented edge cases (ownership of the fd, errors, a command that
// fails, orphans, close without draining). The C test (bmake_filemon_c_test.c) covers bmake's
// exact call order.

#include "filemon/backends/bmake_filemon.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace {

std::string TempDir() { return std::getenv("TEST_TMPDIR"); }

// A fresh handle, or a skip reason.
struct filemon_handle* OpenOrSkip(std::string* why) {
  struct filemon_handle* F = filemon_open();
  if (F == nullptr) *why = absl::StrCat("filemon_open: ", std::strerror(errno));
  return F;
}

// A log file: the descriptor to hand over and one to read back with.
struct Log {
  int read_fd = -1;
  int handover_fd = -1;
};

Log NewLog(const std::string& name) {
  std::string path = absl::StrCat(TempDir(), "/", name);
  Log log;
  log.read_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  log.handover_fd = ::dup(log.read_fd);
  return log;
}

std::string ReadBack(int fd) {
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof(buf), out.size())) > 0) out.append(buf, n);
  return out;
}

// Forks `script` the bmake way; returns its pid.
pid_t Start(struct filemon_handle* F, const char* script) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (filemon_setpid_child(F, ::getpid()) != 0) ::_exit(126);
    ::execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  filemon_setpid_parent(F, pid);
  return pid;
}

TEST(BmakeFilemon, PathNamesTheMechanism) {
#if defined(__FreeBSD__) || defined(__NetBSD__)
  EXPECT_STREQ(filemon_path(), "/dev/filemon");
#else
  const char* backend = getenv("FILEMON_BACKEND");
  EXPECT_STREQ(filemon_path(), backend != nullptr && *backend != '\0' ? backend : "auto");
#endif
}

TEST(BmakeFilemon, SetFdTakesOwnershipAndFailsLikeTheDevice) {
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  int read_only = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(filemon_setfd(F, read_only), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(::fcntl(read_only, F_GETFD), -1) << "the descriptor is closed even on failure";

  Log log = NewLog("owned.log");
  ASSERT_EQ(filemon_setfd(F, log.handover_fd), 0);
  EXPECT_NE(::fcntl(log.handover_fd, F_GETFD), -1) << "kept open by the handle until close";
  int second = ::dup(log.read_fd);
  EXPECT_EQ(filemon_setfd(F, second), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(::fcntl(second, F_GETFD), -1);

  EXPECT_EQ(filemon_readfd(F), -1) << "nothing to poll before a child is named";
  EXPECT_EQ(filemon_process(F), 0) << "no child: nothing to wait for";
  EXPECT_EQ(filemon_close(F), 0);
  std::string text = ReadBack(log.read_fd);
  EXPECT_TRUE(absl::StartsWith(
      text, absl::StrCat("# filemon version 5\n# Target pid ", ::getpid(), "\n# Start ")))
      << text;
  EXPECT_TRUE(absl::EndsWith(text, "\n# Bye bye\n")) << text;
  ::close(log.read_fd);
}

TEST(BmakeFilemon, LogWriteErrorIsReported) {
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (full < 0) {
    filemon_close(F);
    GTEST_SKIP() << "no /dev/full";
  }
#if defined(__FreeBSD__) || defined(__NetBSD__)
  EXPECT_EQ(filemon_setfd(F, full), -1) << "the device writes the header at once";
  EXPECT_EQ(errno, ENOSPC);
#else
  EXPECT_EQ(filemon_setfd(F, full), 0) << "the header waits in the buffer until the close";
#endif
  EXPECT_EQ(filemon_close(F), -1);
  EXPECT_EQ(errno, ENOSPC);
}

// The log is written once per handle, at the close (bmake reads it only then): neither the
// header at filemon_setfd nor a child's records when it is done reach the file earlier.
TEST(BmakeFilemon, LogIsWrittenOnceAtClose) {
#if defined(__FreeBSD__) || defined(__NetBSD__)
  GTEST_SKIP() << "the device writes as the kernel sees the operations";
#endif
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  Log log = NewLog("once.log");
  ASSERT_EQ(filemon_setfd(F, log.handover_fd), 0);
  EXPECT_EQ(ReadBack(log.read_fd), "") << "the header waits for the records";
  pid_t pid = Start(F, "exit 0");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  while (filemon_process(F) > 0) {
  }
  EXPECT_EQ(ReadBack(log.read_fd), "") << "a child's records wait for the close";
  EXPECT_EQ(filemon_close(F), 0);
  std::string text = ReadBack(log.read_fd);
  ::close(log.read_fd);
  EXPECT_TRUE(absl::StartsWith(text, "# filemon version 5\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nX ", pid, " 0 0\n"))) << text;
  EXPECT_TRUE(absl::EndsWith(text, "\n# Bye bye\n")) << text;
}

TEST(BmakeFilemon, FailingCommandAndItsOrphan) {
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  Log log = NewLog("orphan.log");
  ASSERT_EQ(filemon_setfd(F, log.handover_fd), 0);
  std::string input = absl::StrCat(TempDir(), "/orphan-input");
  ::close(::open(input.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  std::string script = absl::StrCat("(sleep 0.3; cat ", input, ") & exit 3");
  pid_t pid = Start(F, script.c_str());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
  // bmake's meta_cmd_finish: after the reap, this blocks until the orphan is done too.
  while (filemon_process(F) > 0) {
  }
  EXPECT_EQ(filemon_close(F), 0);
  std::string text = ReadBack(log.read_fd);
  ::close(log.read_fd);
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nX ", pid, " 3 0\n"))) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat(" ", input, "\n"))) << "the orphan's read\n"
                                                                       << text;
}

TEST(BmakeFilemon, FailedForkIsNotWaitedFor) {
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  Log log = NewLog("nofork.log");
  ASSERT_EQ(filemon_setfd(F, log.handover_fd), 0);
  filemon_setpid_parent(F, -1);  // what a caller passes when fork(2) failed
  EXPECT_EQ(filemon_process(F), 0);
  // The next child is traced as usual.
  pid_t pid = Start(F, "exec /bin/true");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  while (filemon_process(F) > 0) {
  }
  EXPECT_EQ(filemon_close(F), 0);
  std::string text = ReadBack(log.read_fd);
  ::close(log.read_fd);
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nE ", pid, " /bin/true\n"))) << text;
}

// A nested bmake: a traced process opens a filemon of its own for its child (bmake_filemon.h,
// "Nested"). ptrace gives a process one tracer: the inner filemon_open refuses with EBUSY and
// the enclosing log keeps everything. preload and auto hand the child over, as FreeBSD's
// device does: the inner log has the child's records, the enclosing one its F and nothing of
// what it did.
TEST(BmakeFilemon, ANestedFilemonTakesItsChildOverWhereItCan) {
#if defined(__FreeBSD__) || defined(__NetBSD__)
  GTEST_SKIP() << "the device's own rule";
#endif
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  const bool hands_over = std::string(filemon_path()) != "ptrace";
  Log log = NewLog("nested.log");
  const std::string inner_log = absl::StrCat(TempDir(), "/inner.log");
  const std::string input = absl::StrCat(TempDir(), "/nested_input");
  ASSERT_EQ(::close(::open(input.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)), 0);
  ASSERT_EQ(filemon_setfd(F, log.handover_fd), 0);
  std::string helper = absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                                    "/filemon/backends/bmake_filemon_nested_open");
  const std::string script = absl::StrCat("exec ", helper, " ", inner_log, " ", input);
  pid_t pid = Start(F, script.c_str());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  while (filemon_process(F) > 0) {
  }
  EXPECT_EQ(filemon_close(F), 0);
  std::string text = ReadBack(log.read_fd);
  ::close(log.read_fd);
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat(" ", helper, "\n"))) << text;
  EXPECT_TRUE(absl::StrContains(text, "\nF ")) << text;  // the helper's child (ptrace: probe)
  if (!hands_over) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "filemon_open under an enclosing ptrace trace: exit status " << status;
    return;
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 10)
      << "the nested filemon did not trace its child: exit status " << status;
  int inner_fd = ::open(inner_log.c_str(), O_RDONLY | O_CLOEXEC);
  std::string inner = ReadBack(inner_fd);
  ::close(inner_fd);
  EXPECT_TRUE(absl::StrContains(inner, absl::StrCat(" ", input, "\n"))) << inner;
  EXPECT_TRUE(absl::StrContains(inner, "\nE ")) << inner;
  EXPECT_TRUE(absl::StrContains(inner, "\n# Bye bye")) << inner;
  EXPECT_FALSE(absl::StrContains(text, input)) << "the enclosing log kept the child's records\n"
                                               << text;
}

TEST(BmakeFilemon, CloseWithoutDrainingStillCompletesTheLog) {
  std::string why;
  struct filemon_handle* F = OpenOrSkip(&why);
  if (F == nullptr) GTEST_SKIP() << why;
  Log log = NewLog("undrained.log");
  ASSERT_EQ(filemon_setfd(F, log.handover_fd), 0);
  pid_t pid = Start(F, "exec /bin/true");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(filemon_close(F), 0);
  std::string text = ReadBack(log.read_fd);
  ::close(log.read_fd);
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nE ", pid, " /bin/true\n"))) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nX ", pid, " 0 0\n"))) << text;
  EXPECT_TRUE(absl::EndsWith(text, "\n# Bye bye\n")) << text;
}

}  // namespace
