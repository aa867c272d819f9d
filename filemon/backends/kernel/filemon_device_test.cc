#include "filemon/backends/kernel/filemon_device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

TEST(FilemonIoctl, NumbersMatchTheSpec) {
  // filemon-format.md 2.1: FreeBSD/NetBSD <dev/filemon/filemon.h>, syzkaller's constants.
  EXPECT_EQ(kFilemonSetFd, 0xC0045301u);
  EXPECT_EQ(kFilemonSetFd, 3221508865u);
  EXPECT_EQ(kFilemonSetPid, 0xC0045302u);
  EXPECT_EQ(kFilemonSetPid, 3221508866u);
}

struct EncodingCase {
  char group;
  unsigned number;
  size_t length;
  uint32_t expected;
};

TEST(FilemonIoctl, BsdEncoding) {
  constexpr EncodingCase kCases[] = {
      {'S', 1, 4, 0xC0045301u},      {'S', 2, 4, 0xC0045302u},
      {'S', 2, 8, 0xC0085302u},       // an 8-byte pid_t would change the number
      {'t', 0x10, 0, 0xC0007410u},    // no parameter
      {'x', 1, 0x2000, 0xC0007801u},  // the length is masked to 13 bits (IOCPARM_MASK)
      {'\xf1', 2, 4, 0xC004F102u},    // groups are unsigned bytes
  };
  for (const EncodingCase& c : kCases) {
    SCOPED_TRACE(absl::StrCat(std::string(1, c.group), " ", c.number, " ", c.length));
    EXPECT_EQ(BsdIoctlReadWrite(c.group, c.number, c.length), c.expected);
  }
}

struct ErrorCase {
  FilemonCall call;
  int error_number;
  int64_t argument;
  absl::StatusCode code;
  const char* what;   // the call, as named in the message
  const char* cause;  // filemon(4)'s meaning
};

TEST(FilemonError, EveryDocumentedErrorNamesCallAndCause) {
  const ErrorCase kCases[] = {
      {FilemonCall::kSetFd, EEXIST, 5, absl::StatusCode::kAlreadyExists,
       "ioctl(/dev/filemon, FILEMON_SET_FD, 5)", "already has a log descriptor"},
      {FilemonCall::kSetFd, EINVAL, 5, absl::StatusCode::kInvalidArgument,
       "ioctl(/dev/filemon, FILEMON_SET_FD, 5)", "log descriptor 5 has a type the kernel cannot"},
      {FilemonCall::kSetFd, EBADF, 7, absl::StatusCode::kFailedPrecondition,
       "ioctl(/dev/filemon, FILEMON_SET_FD, 7)", "log descriptor 7 is invalid or not open for"},
      {FilemonCall::kSetPid, ESRCH, 42, absl::StatusCode::kNotFound,
       "ioctl(/dev/filemon, FILEMON_SET_PID, 42)", "no process 42, or it is exiting"},
      {FilemonCall::kSetPid, EBUSY, 42, absl::StatusCode::kFailedPrecondition,
       "ioctl(/dev/filemon, FILEMON_SET_PID, 42)", "already traced by another filemon"},
      {FilemonCall::kSetPid, EPERM, 42, absl::StatusCode::kPermissionDenied,
       "ioctl(/dev/filemon, FILEMON_SET_PID, 42)", "not allowed to debug process 42"},
      {FilemonCall::kClose, EFAULT, 0, absl::StatusCode::kInvalidArgument, "close(/dev/filemon)",
       "invalid path address; its record is missing"},
      {FilemonCall::kClose, ENAMETOOLONG, 0, absl::StatusCode::kInvalidArgument,
       "close(/dev/filemon)", "path too long to copy; its record is missing"},
      {FilemonCall::kClose, ENOSPC, 0, absl::StatusCode::kResourceExhausted, "close(/dev/filemon)",
       "could not write the log"},
      {FilemonCall::kOpen, ENOENT, 0, absl::StatusCode::kUnavailable, "open(/dev/filemon)",
       PlatformHasFilemonDevice() ? "module is not loaded" : "use the ptrace backend"},
      {FilemonCall::kOpen, EACCES, 0, absl::StatusCode::kPermissionDenied, "open(/dev/filemon)",
       "no permission to open /dev/filemon"},
      {FilemonCall::kSetFd, ENOTTY, 3, absl::StatusCode::kInvalidArgument,
       "ioctl(/dev/filemon, FILEMON_SET_FD, 3)", "is not a filemon(4) device"},
  };
  for (const ErrorCase& c : kCases) {
    absl::Status s = FilemonError(c.call, c.error_number, kFilemonDevicePath, c.argument);
    SCOPED_TRACE(s.ToString());
    EXPECT_EQ(s.code(), c.code);
    EXPECT_TRUE(absl::StartsWith(s.message(), c.what));
    EXPECT_TRUE(absl::StrContains(s.message(), std::strerror(c.error_number)));
    EXPECT_TRUE(absl::StrContains(s.message(), c.cause));
  }
}

TEST(FilemonDevice, UnavailableWithoutTheDevice) {
  if (PlatformHasFilemonDevice()) {
    GTEST_SKIP() << "this system has filemon(4); the missing-device path is Linux's";
  }
  absl::StatusOr<FilemonDevice> dev = FilemonDevice::Open();
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(dev.status().message(), "/dev/filemon"));
  EXPECT_TRUE(absl::StrContains(dev.status().message(), "--backend=ptrace"));
  EXPECT_TRUE(absl::StrContains(dev.status().message(), "--backend=preload"));
}

TEST(FilemonDevice, IoctlsOnANonFilemonDeviceSayWhat) {
  // /dev/null accepts O_RDWR and rejects every ioctl with ENOTTY, on Linux and the BSDs.
  absl::StatusOr<FilemonDevice> dev = FilemonDevice::Open("/dev/null");
  ASSERT_TRUE(dev.ok()) << dev.status();
  absl::Status set_fd = dev->SetLogFd(1);
  EXPECT_EQ(set_fd.message(),
            absl::StrCat("ioctl(/dev/null, FILEMON_SET_FD, 1): ", std::strerror(ENOTTY),
                         ": /dev/null is not a filemon(4) device"));
  absl::Status set_pid = dev->SetPid(getpid());
  EXPECT_TRUE(absl::StrContains(set_pid.message(), "FILEMON_SET_PID")) << set_pid;
  EXPECT_EQ(dev->SetPidInChild(getpid()), ENOTTY);
  EXPECT_TRUE(dev->Close().ok());
  EXPECT_TRUE(dev->Close().ok()) << "Close() is idempotent";
}

TEST(FilemonDevice, CloseReportsTheCloseError) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ::close(fd);  // the adopted descriptor is already closed: close(2) says EBADF
  FilemonDevice dev = FilemonDevice::Adopt(fd, "/dev/filemon");
  absl::Status s = dev.Close();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(s.message(), "close(/dev/filemon)")) << s;
}

TEST(FilemonDevice, MissingPathIsUnavailable) {
  std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/no-such-filemon");
  absl::StatusOr<FilemonDevice> dev = FilemonDevice::Open(path);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(dev.status().message(), absl::StrCat("open(", path, ")")));
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof(buf), out.size())) > 0) out.append(buf, n);
  return out;
}

// The man page's example, on the real device.
TEST(FilemonDevice, RoundTripOnTheRealDevice) {
  if (::access(kFilemonDevicePath, F_OK) != 0 || !PlatformHasFilemonDevice()) {
    GTEST_SKIP() << "no filemon(4) device at " << kFilemonDevicePath
                 << " (Linux has none; on FreeBSD: kldload filemon)";
  }
  absl::StatusOr<FilemonDevice> dev = FilemonDevice::Open();
  ASSERT_TRUE(dev.ok()) << dev.status();
  std::string log_path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/filemon.out");
  int log = ::open(log_path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(log, 0);
  ASSERT_TRUE(dev->SetLogFd(log).ok());
  EXPECT_EQ(dev->SetLogFd(log).code(), absl::StatusCode::kAlreadyExists);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (dev->SetPidInChild(::getpid()) != 0) ::_exit(126);
    ::execl("/bin/cat", "cat", "/etc/hosts", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(dev->Close().ok());
  std::string text = ReadAll(log);
  ::close(log);
  EXPECT_TRUE(absl::StartsWith(text, "# filemon version ")) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nE ", child, " /bin/cat\n"))) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nR ", child, " /etc/hosts\n"))) << text;
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\nX ", child, " 0"))) << text;
  EXPECT_TRUE(absl::StrContains(text, "# Bye bye\n")) << text;
}

}  // namespace
}  // namespace filemon
