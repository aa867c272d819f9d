#include "filemon/backends/kernel/filemon_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

#if defined(__has_include)
#if __has_include(<dev/filemon/filemon.h>)
#include <dev/filemon/filemon.h>
#define FILEMON_HAVE_SYSTEM_HEADER 1
#endif
#endif

namespace filemon {
namespace {

#ifdef FILEMON_HAVE_SYSTEM_HEADER
static_assert(FILEMON_SET_FD == kFilemonSetFd, "FILEMON_SET_FD differs from the spec");
static_assert(FILEMON_SET_PID == kFilemonSetPid, "FILEMON_SET_PID differs from the spec");
#endif

absl::string_view CallName(FilemonCall call) {
  switch (call) {
    case FilemonCall::kOpen:
      return "open";
    case FilemonCall::kSetFd:
      return "FILEMON_SET_FD";
    case FilemonCall::kSetPid:
      return "FILEMON_SET_PID";
    case FilemonCall::kClose:
      return "close";
  }
  return "?";
}

// What is missing where the device is: the alternatives for this platform.
std::string MissingDeviceCause(absl::string_view device) {
#if defined(__FreeBSD__) || defined(__DragonFly__)
  return absl::StrCat("the filemon kernel module is not loaded (as root: kldload filemon, or ",
                      "filemon_load=\"YES\" in /boot/loader.conf)");
#elif defined(__NetBSD__)
  return "the filemon kernel module is not loaded (as root: modload filemon)";
#else
  return absl::StrCat(device,
                      " is the FreeBSD/NetBSD filemon(4) kernel device, which this system does "
                      "not have; use the ptrace backend (--backend=ptrace) or the preload "
                      "backend (--backend=preload) instead");
#endif
}

std::string Cause(FilemonCall call, int error_number, absl::string_view device, int64_t argument) {
  if (error_number == ENOTTY && call != FilemonCall::kOpen && call != FilemonCall::kClose) {
    return absl::StrCat(device, " is not a filemon(4) device");
  }
  switch (call) {
    case FilemonCall::kOpen:
      switch (error_number) {
        case ENOENT:
        case ENXIO:
        case ENODEV:
          return MissingDeviceCause(device);
        case EACCES:
        case EPERM:
          return absl::StrCat("no permission to open ", device,
                              " read-write (FreeBSD creates it mode 0666)");
      }
      break;
    case FilemonCall::kSetFd:
      switch (error_number) {
        case EEXIST:
          return "this filemon handle already has a log descriptor (one FILEMON_SET_FD per open)";
        case EBADF:
          return absl::StrCat("log descriptor ", argument, " is invalid or not open for writing");
        case EINVAL:
          return absl::StrCat("log descriptor ", argument, " has a type the kernel cannot log to");
      }
      break;
    case FilemonCall::kSetPid:
      switch (error_number) {
        case ESRCH:
          return absl::StrCat("no process ", argument,
                              ", or it is exiting or in the middle of an exec");
        case EBUSY:
          return absl::StrCat("process ", argument,
                              " is already traced by another filemon handle and is not the "
                              "calling process");
        case EPERM:
        case EACCES:
          return absl::StrCat("not allowed to debug process ", argument,
                              " (another user's, set-id, or securelevel)");
        case EINVAL:
          return absl::StrCat("no process ", argument, " (older kernels say EINVAL)");
      }
      break;
    case FilemonCall::kClose:
      switch (error_number) {
        case EFAULT:
          return "a traced system call passed an invalid path address; its record is missing "
                 "from the log";
        case ENAMETOOLONG:
          return "a traced system call passed a path too long to copy; its record is missing "
                 "from the log";
        case EBADF:
          return "the filemon handle was already closed";
        default:
          return "the kernel could not write the log (write(2) failed); the log is incomplete";
      }
  }
  return "";
}

}  // namespace

absl::Status FilemonError(FilemonCall call, int error_number, absl::string_view device,
                          int64_t argument) {
  std::string what;
  switch (call) {
    case FilemonCall::kOpen:
    case FilemonCall::kClose:
      what = absl::StrCat(CallName(call), "(", device, ")");
      break;
    case FilemonCall::kSetFd:
    case FilemonCall::kSetPid:
      what = absl::StrCat("ioctl(", device, ", ", CallName(call), ", ", argument, ")");
      break;
  }
  absl::Status errno_status = absl::ErrnoToStatus(error_number, what);
  std::string cause = Cause(call, error_number, device, argument);
  absl::StatusCode code = errno_status.code();
  if (call == FilemonCall::kOpen &&
      (error_number == ENOENT || error_number == ENXIO || error_number == ENODEV)) {
    code = absl::StatusCode::kUnavailable;
  }
  if (cause.empty()) return absl::Status(code, errno_status.message());
  return absl::Status(code, absl::StrCat(errno_status.message(), ": ", cause));
}

absl::StatusOr<FilemonDevice> FilemonDevice::Open(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return FilemonError(FilemonCall::kOpen, errno, path, 0);
  return FilemonDevice(fd, path);
}

FilemonDevice FilemonDevice::Adopt(int fd, std::string path) {
  return FilemonDevice(fd, std::move(path));
}

FilemonDevice::FilemonDevice(FilemonDevice&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)) {}

FilemonDevice& FilemonDevice::operator=(FilemonDevice&& other) noexcept {
  if (this != &other) {
    Close().IgnoreError();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
  }
  return *this;
}

FilemonDevice::~FilemonDevice() { Close().IgnoreError(); }

absl::Status FilemonDevice::SetLogFd(int log_fd) {
  int error_number = SetLogFdErrno(log_fd);
  if (error_number != 0) return FilemonError(FilemonCall::kSetFd, error_number, path_, log_fd);
  return absl::OkStatus();
}

int FilemonDevice::SetLogFdErrno(int log_fd) {
  int arg = log_fd;
  int r;
  do {
    r = ::ioctl(fd_.get(), kFilemonSetFd, &arg);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

absl::Status FilemonDevice::SetPid(pid_t pid) {
  int error_number = SetPidInChild(pid);
  if (error_number != 0) return FilemonError(FilemonCall::kSetPid, error_number, path_, pid);
  return absl::OkStatus();
}

int FilemonDevice::SetPidInChild(pid_t pid) const {
  pid_t arg = pid;
  int r;
  do {
    r = ::ioctl(fd_.get(), kFilemonSetPid, &arg);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

absl::Status FilemonDevice::Close() {
  int error_number = CloseErrno();
  if (error_number != 0) return FilemonError(FilemonCall::kClose, error_number, path_, 0);
  return absl::OkStatus();
}

int FilemonDevice::CloseErrno() {
  // close(2) is not retried on EINTR: the descriptor is released either way (POSIX leaves
  // its state unspecified; FreeBSD and Linux free it), and filemon's error is reported once.
  if (fd_.Close() < 0 && errno != EINTR) return errno;
  return 0;
}

}  // namespace filemon
