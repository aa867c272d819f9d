// File: filemon/core/owned_fd.h
//
// `OwnedFd`: the one type in filemon that owns a file descriptor. It closes the descriptor
// when it is destroyed or reset, and can only be moved, so that exactly one owner closes each
// descriptor exactly once. Header-only and libc-only; `close` is the only call it makes, so a
// child between fork and exec may use it (async-signal-safe).
//
// Example:
//   filemon::OwnedFd log(open(path, O_RDONLY | O_CLOEXEC));
//   if (!log.valid()) return absl::ErrnoToStatus(errno, "open");
//   read(log.get(), buffer, size);   // closed when `log` goes out of scope

#ifndef FILEMON_CORE_OWNED_FD_H_
#define FILEMON_CORE_OWNED_FD_H_

#include <unistd.h>

namespace filemon {

class OwnedFd {
 public:
  OwnedFd() = default;
  // Takes ownership of `fd` (negative: owns nothing).
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  // Copying would close one descriptor twice.
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing; returns the descriptor (-1 if none).
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the owned descriptor (if any), then owns `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes the owned descriptor and returns close(2)'s result (0 when nothing was owned), for
  // callers that must report a late write error (close of a file on NFS, a full disk).
  int Close() { return fd_ < 0 ? 0 : ::close(release()); }

 private:
  int fd_ = -1;
};

}  // namespace filemon

#endif  // FILEMON_CORE_OWNED_FD_H_
