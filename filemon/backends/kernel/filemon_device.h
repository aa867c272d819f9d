// File: filemon/backends/kernel/filemon_device.h
//
// The FreeBSD/NetBSD filemon(4) device, `/dev/filemon`, as a small RAII handle: open it, point
// it at a log descriptor (FILEMON_SET_FD), name the process to trace (FILEMON_SET_PID, normally
// in the forked child before exec), and close it (the kernel writes the log's footer and
// reports, through close(2), the errors it met while logging).
//
// Every failure becomes an `absl::Status` naming the call, the device path and the cause as
// filemon(4) documents it ("ioctl(/dev/filemon, FILEMON_SET_PID, 42): No such process: no
// such process, or it is exiting or in the middle of an exec").
//
// This file compiles on every platform: where <dev/filemon/filemon.h> is missing (Linux), the
// ioctl numbers are encoded here the BSD way (sys/sys/ioccom.h), `_IOWR('S', 1, int)` and
// `_IOWR('S', 2, pid_t)`. Linux has no such device; `Open()` reports that plainly.
//
// Example (FreeBSD, the man page's protocol):
//   absl::StatusOr<filemon::FilemonDevice> dev = filemon::FilemonDevice::Open();
//   if (!dev.ok()) return dev.status();
//   if (absl::Status s = dev->SetLogFd(log_fd); !s.ok()) return s;
//   pid_t child = fork();
//   if (child == 0) {
//     if (dev->SetPidInChild(getpid()) != 0) _exit(127);  // async-signal-safe
//     execv(path, argv);
//   }
//   waitpid(child, &status, 0);
//   absl::Status closed = dev->Close();  // log write errors, EFAULT, ENAMETOOLONG

#ifndef FILEMON_BACKENDS_KERNEL_FILEMON_DEVICE_H_
#define FILEMON_BACKENDS_KERNEL_FILEMON_DEVICE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/owned_fd.h"

namespace filemon {

// `_PATH_FILEMON` of NetBSD's <dev/filemon/filemon.h>; FreeBSD's make_dev() name.
inline constexpr char kFilemonDevicePath[] = "/dev/filemon";

// The BSD ioctl encoding (FreeBSD and NetBSD sys/sys/ioccom.h): IOC_INOUT (0xC0000000) for
// _IOWR, the parameter length masked to 13 bits in bits 16..28, the group in bits 8..15, the
// number in bits 0..7.
constexpr uint32_t BsdIoctlReadWrite(char group, unsigned number, size_t length) {
  return 0xC0000000u | ((static_cast<uint32_t>(length) & 0x1fffu) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(group)) << 8) | (number & 0xffu);
}

// FILEMON_SET_FD = _IOWR('S', 1, int) = 0xC0045301; FILEMON_SET_PID = _IOWR('S', 2, pid_t) =
// 0xC0045302 (both kernels; syzkaller's sys/freebsd/filemon.txt.const lists the same values).
inline constexpr uint32_t kFilemonSetFd = BsdIoctlReadWrite('S', 1, sizeof(int));
inline constexpr uint32_t kFilemonSetPid = BsdIoctlReadWrite('S', 2, sizeof(pid_t));

// The calls whose errors filemon(4) documents.
enum class FilemonCall {
  kOpen,    // open(/dev/filemon)
  kSetFd,   // ioctl(FILEMON_SET_FD)
  kSetPid,  // ioctl(FILEMON_SET_PID)
  kClose,   // close(2) of the device descriptor
};

// The status for `call` failing with `error_number` on `device`. `argument` is the ioctl's
// argument (the log fd or the pid; ignored for open and close). The code is
// absl::ErrnoToStatus's; the message is "CALL: strerror: CAUSE", CAUSE being filemon(4)'s
// meaning of that errno for that call (for ENOENT on open: the device is missing, with the
// alternatives: `kldload filemon` on FreeBSD, the ptrace or preload backend on Linux).
absl::Status FilemonError(FilemonCall call, int error_number, absl::string_view device,
                          int64_t argument);

// True where a filemon(4) kernel device can exist (FreeBSD, NetBSD).
constexpr bool PlatformHasFilemonDevice() {
#if defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
  return true;
#else
  return false;
#endif
}

// An open /dev/filemon handle. Movable, not copyable (it owns the descriptor; the kernel keeps
// one trace per open). Not thread-safe.
class FilemonDevice {
 public:
  // Opens `path` O_RDWR | O_CLOEXEC (EINTR retried). On Linux and other systems without
  // filemon(4), and when the device is missing, returns an Unavailable status naming `path`
  // and the alternatives.
  static absl::StatusOr<FilemonDevice> Open(const std::string& path = kFilemonDevicePath);

  // Adopts an open descriptor (tests; callers that opened the device themselves).
  static FilemonDevice Adopt(int fd, std::string path);

  FilemonDevice(FilemonDevice&& other) noexcept;
  FilemonDevice& operator=(FilemonDevice&& other) noexcept;
  FilemonDevice(const FilemonDevice&) = delete;
  FilemonDevice& operator=(const FilemonDevice&) = delete;
  ~FilemonDevice();  // closes; the close status is lost (call Close() to see it)

  // FILEMON_SET_FD: the kernel writes the log header to `log_fd` at once and the records
  // there from now on. It keeps its own reference: the caller may close `log_fd` afterwards.
  // Errors: EEXIST (a log is already set), EBADF (not open for writing), EINVAL (a descriptor
  // type the kernel cannot log to).
  absl::Status SetLogFd(int log_fd);
  // The same, returning 0 or the errno (for C callers that report errno).
  int SetLogFdErrno(int log_fd);

  // FILEMON_SET_PID. Errors: ESRCH (no such process, exiting, or mid-exec), EBUSY (traced by
  // another filemon and not the caller), EPERM (not debuggable by the caller).
  absl::Status SetPid(pid_t pid);

  // FILEMON_SET_PID for use between fork and exec: async-signal-safe, allocates nothing.
  // Returns 0 or the errno (map it with FilemonError(kSetPid, ...) in the parent).
  int SetPidInChild(pid_t pid) const;

  // Closes the device: the kernel writes the footer ("# Stop", "# Bye bye" on FreeBSD) and
  // returns the first error it met while logging: a write(2) error on the log, EFAULT or
  // ENAMETOOLONG for a traced call whose path it could not copy (that record is missing).
  // Idempotent: later calls return OK.
  absl::Status Close();
  // The same, returning 0 or the errno.
  int CloseErrno();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  FilemonDevice(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  OwnedFd fd_;
  std::string path_;
};

}  // namespace filemon

#endif  // FILEMON_BACKENDS_KERNEL_FILEMON_DEVICE_H_
