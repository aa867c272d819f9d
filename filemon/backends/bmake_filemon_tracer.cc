#include "filemon/backends/bmake_filemon_tracer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "filemon/core/writer.h"

namespace filemon {
namespace {

enum ControlKind : int32_t { kTrace = 1, kClose = 2 };
struct ControlMessage {
  int32_t kind;
  int32_t pid;
};
struct Answer {
  int32_t error_number;
};

enum StatusKind : int32_t { kReady = 1, kDone = 2, kClosed = 3 };
struct StatusMessage {
  int32_t kind;
  int32_t pid;
  int32_t error_number;
};

bool WriteFull(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Closes every descriptor >= 3 except those in `keep` (sorted ascending).
void CloseAllExcept(const int* keep, int count) {
  unsigned first = 3;
  bool ok = true;
  for (int i = 0; i < count && ok; ++i) {
    unsigned k = static_cast<unsigned>(keep[i]);
    if (k < first) continue;
    if (k > first) ok = ::syscall(SYS_close_range, first, k - 1, 0) == 0;
    first = k + 1;
  }
  if (ok && ::syscall(SYS_close_range, first, ~0u, 0) == 0) return;
  // Kernels before 5.9 have no close_range.
  long max = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
  for (int fd = 3; fd < max; ++fd) {
    if (std::find(keep, keep + count, fd) == keep + count) ::close(fd);
  }
}

// The tracer process: never returns.
[[noreturn]] void TracerMain(int log_fd, int control_fd, int status_fd) {
  // A copy of bmake: its signal handlers and descriptors are not ours.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int keep[3] = {log_fd, control_fd, status_fd};
  std::sort(keep, keep + 3);
  CloseAllExcept(keep, 3);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    if (null_fd > 2) ::close(null_fd);
  }

  StatusMessage ready{kReady, static_cast<int32_t>(::getpid()), 0};
  if (!WriteFull(status_fd, &ready, sizeof(ready))) ::_exit(1);

  Writer writer(log_fd, {});
  int trace_error = 0;
  for (;;) {
    ControlMessage message;
    ssize_t n;
    do {
      n = ::recv(control_fd, &message, sizeof(message), 0);
    } while (n < 0 && errno == EINTR);
    // EOF: bmake and every child that could still announce itself are gone.
    if (n <= 0 || message.kind == kClose) break;
    if (n != sizeof(message) || message.kind != kTrace) continue;
    auto answer = [control_fd](int error_number) {
      Answer a{error_number};
      ::send(control_fd, &a, sizeof(a), MSG_NOSIGNAL);
    };
    absl::Status traced = TraceAnnouncedChild(message.pid, answer, &writer);
    int error_number = 0;
    if (!traced.ok()) {
      std::fprintf(stderr, "filemon: tracing pid %d: %s\n", message.pid, traced.ToString().c_str());
      error_number = EIO;
      if (trace_error == 0) trace_error = error_number;
    }
    if (!writer.Flush().ok() && error_number == 0) error_number = EIO;
    StatusMessage done{kDone, message.pid, error_number};
    if (!WriteFull(status_fd, &done, sizeof(done))) break;
  }
  writer.WriteFooter(absl::Now());
  absl::Status closed = writer.Close();
  if (!closed.ok()) std::fprintf(stderr, "filemon: %s\n", closed.ToString().c_str());
  StatusMessage bye{kClosed, 0, closed.ok() ? trace_error : EIO};
  WriteFull(status_fd, &bye, sizeof(bye));
  ::_exit(0);
}

// True if `pid` no longer runs: reaped, or a zombie (its parent has not reaped it yet).
bool Vanished(pid_t pid) {
  if (::kill(pid, 0) < 0 && errno == ESRCH) return true;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // "pid (comm) S ...": the state follows the last ')'.
  const char* paren = std::strrchr(buf, ')');
  return paren != nullptr && paren[1] == ' ' && paren[2] == 'Z';
}

}  // namespace

BmakeTracerClient::~BmakeTracerClient() { CloseDescriptors(); }

void BmakeTracerClient::CloseDescriptors() {
  if (control_fd_ >= 0) ::close(control_fd_);
  if (status_fd_ >= 0) ::close(status_fd_);
  control_fd_ = status_fd_ = -1;
}

int BmakeTracerClient::SetFd(int fd) {
  if (tracer_ >= 0) {
    ::close(fd);
    errno = EEXIST;
    return -1;
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
    if (flags >= 0) ::close(fd);
    errno = EBADF;
    return -1;
  }
  {
    // The header, now, as FILEMON_SET_FD writes it.
    Writer header(fd, {});
    header.WriteHeader(::getpid(), absl::Now());
    if (!header.Close().ok()) {
      ::close(fd);
      errno = EIO;
      return -1;
    }
  }
  int control[2];
  int status[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) < 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  if (::pipe2(status, O_CLOEXEC) < 0) {
    int saved = errno;
    ::close(fd);
    ::close(control[0]);
    ::close(control[1]);
    errno = saved;
    return -1;
  }
  pid_t middle = ::fork();
  if (middle == 0) {
    // Fork again and exit, so that the tracer is nobody's child here: bmake's wait(2) loops
    // must never see it.
    pid_t tracer = ::fork();
    if (tracer == 0) TracerMain(fd, control[1], status[1]);
    ::_exit(tracer < 0 ? 1 : 0);
  }
  int saved = errno;
  ::close(fd);
  ::close(control[1]);
  ::close(status[1]);
  control_fd_ = control[0];
  status_fd_ = status[0];
  if (middle < 0) {
    CloseDescriptors();
    errno = saved;
    return -1;
  }
  int middle_status = 0;
  while (::waitpid(middle, &middle_status, 0) < 0 && errno == EINTR) {
  }
  int32_t kind = 0, pid = 0, error_number = 0;
  if (!ReadStatus(&kind, &pid, &error_number) || kind != kReady) {
    CloseDescriptors();
    errno = ECHILD;  // the tracer process could not start
    return -1;
  }
  tracer_ = pid;
  return 0;
}

void BmakeTracerClient::SetPidParent(pid_t pid) {
  ++pending_;
  last_child_ = pid;
}

int BmakeTracerClient::SetPidChild(pid_t pid) const {
  if (tracer_ < 0) {
    errno = EBADF;  // no log set
    return -1;
  }
  // Yama's restricted ptrace (scope 1) lets only an ancestor attach unless the tracee names
  // its tracer; EINVAL means Yama is absent, which needs nothing.
  ::prctl(PR_SET_PTRACER, static_cast<unsigned long>(tracer_), 0, 0, 0);
  ControlMessage message{kTrace, static_cast<int32_t>(pid)};
  ssize_t n;
  do {
    n = ::send(control_fd_, &message, sizeof(message), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof(message)) {
    if (n >= 0) errno = EPIPE;
    return -1;
  }
  Answer answer{0};
  do {
    n = ::recv(control_fd_, &answer, sizeof(answer), 0);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof(answer)) {
    errno = n < 0 ? errno : EPIPE;  // the tracer is gone
    return -1;
  }
  if (answer.error_number != 0) {
    errno = answer.error_number;
    return -1;
  }
  return 0;
}

bool BmakeTracerClient::ReadStatus(int32_t* kind, int32_t* pid, int32_t* error_number) {
  StatusMessage message;
  size_t got = 0;
  while (got < sizeof(message)) {
    ssize_t n = ::read(status_fd_, reinterpret_cast<char*>(&message) + got, sizeof(message) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EPIPE;  // the tracer died
      return false;
    }
    got += static_cast<size_t>(n);
  }
  *kind = message.kind;
  *pid = message.pid;
  *error_number = message.error_number;
  return true;
}

bool BmakeTracerClient::WaitReadable() {
  // A child that died before it could announce itself is never reported; notice it. A traced
  // child's kDone is written right after the tracer reaps it, so a child seen gone twice in a
  // row, a second apart, with nothing to read, was never traced.
  int vanished_rounds = 0;
  for (;;) {
    struct pollfd p = {status_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 1000);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let read() report it
    if (r == 0 && last_child_ > 0 && Vanished(last_child_)) {
      if (++vanished_rounds >= 2) return false;
    } else {
      vanished_rounds = 0;
    }
  }
}

int BmakeTracerClient::Process() {
  if (status_fd_ < 0) {
    errno = EBADF;
    return -1;
  }
  if (pending_ == 0) return 0;
  if (!WaitReadable()) {
    pending_ = 0;  // never traced: nothing will come
    return 0;
  }
  int32_t kind = 0, pid = 0, error_number = 0;
  if (!ReadStatus(&kind, &pid, &error_number)) {
    if (first_error_ == 0) first_error_ = errno;
    pending_ = 0;
    return -1;
  }
  if (kind == kDone) --pending_;
  if (error_number != 0) {
    if (first_error_ == 0) first_error_ = error_number;
    errno = error_number;
    return -1;
  }
  return pending_ > 0 ? 1 : 0;
}

int BmakeTracerClient::Close() {
  if (tracer_ < 0) {
    CloseDescriptors();
    return first_error_;
  }
  ControlMessage message{kClose, 0};
  ::send(control_fd_, &message, sizeof(message), MSG_NOSIGNAL);
  int result = first_error_;
  for (;;) {
    int32_t kind = 0, pid = 0, error_number = 0;
    if (!ReadStatus(&kind, &pid, &error_number)) {
      if (result == 0) result = errno;
      break;
    }
    if (error_number != 0 && result == 0) result = error_number;
    if (kind == kClosed) break;
  }
  CloseDescriptors();
  tracer_ = -1;
  return result;
}

}  // namespace filemon
