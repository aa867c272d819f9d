// bmake's filemon API over this library. Two implementations behind one C surface, chosen at
// run time: the filemon(4) device where the platform has one (the semantics of bmake's own
// filemon_dev.c), and elsewhere a backend's fork-it-yourself `TraceSession`
// (filemon/core/backend.h; auto on Linux) feeding a `Writer` on the log descriptor.

#include "filemon/backends/bmake_filemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
// The session backends (the factory: auto, preload, ptrace) are linked only where they build
// (Linux: BUILD.bazel defines FILEMON_BMAKE_SESSIONS); FreeBSD/NetBSD need only the device.
#if defined(FILEMON_BMAKE_SESSIONS)
#include "filemon/backends/backend_factory.h"
#include "filemon/backends/per_process.h"
#endif
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/core/backend.h"
#include "filemon/core/writer.h"

namespace {

// The backend the session path uses: $FILEMON_BACKEND if set, else auto (the interposer's
// cost per command; static, 32-bit and Go programs handed to ptrace in place).
std::string SessionBackendName() {
  const char* name = std::getenv("FILEMON_BACKEND");
  return name != nullptr && *name != '\0' ? name : "auto";
}

// bmake reports failures with err(3) and strerror: the reason is printed here, once, and errno
// carries the closest code.
int Report(const absl::Status& status) {
  std::fprintf(stderr, "filemon: %s\n", status.ToString().c_str());
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return EPERM;
    case absl::StatusCode::kFailedPrecondition:
      return EBUSY;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kUnimplemented:
      return ENOSYS;
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    default:
      return EIO;
  }
}

}  // namespace

// The opaque handle of the C API.
struct filemon_handle {
  // The device (FreeBSD, NetBSD); null elsewhere.
  std::unique_ptr<filemon::FilemonDevice> device;

  // Elsewhere: the backend, the log, and the session the current (or next) child uses. A
  // session traces one child; the next one is started as soon as the current child is done,
  // since bmake's compat mode forks the next command of a target under the same filemon
  // without calling the API in between.
  filemon::Backend* backend = nullptr;  // SharedBackend()
  // The process that opened the handle, the one that uses it (sessions belong to the process
  // that made them): the log's "Target pid", asked once.
  pid_t owner = -1;
  std::unique_ptr<filemon::Writer> writer;
  std::unique_ptr<filemon::TraceSession> session;
  pid_t child = -1;     // the child named by filemon_setpid_parent, while traced
  int first_error = 0;  // the first failure, returned again by filemon_close
};

namespace {

int Fail(struct filemon_handle* F, int error_number) {
  if (F->first_error == 0) F->first_error = error_number;
  errno = error_number;
  return -1;
}

// True once the caller has reaped `child` (waitid reports ECHILD); a zombie or a running
// child is left alone (WNOWAIT).
bool Reaped(pid_t child) {
  siginfo_t info;
  info.si_pid = 0;
  while (::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
    if (errno != EINTR) return errno == ECHILD;
  }
  return false;
}

#if defined(FILEMON_BMAKE_SESSIONS)
// The TracerPid of the calling process (/proc/self/status), 0 if untraced or unknown.
// Async-signal-safe (open, read, close; no allocation).
long TracerPid() {
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  static constexpr char kKey[] = "\nTracerPid:";
  const char* p = std::strstr(buf, kKey);
  if (p == nullptr) return 0;
  p += sizeof(kKey) - 1;
  while (*p == ' ' || *p == '\t') ++p;
  long pid = 0;
  while (*p >= '0' && *p <= '9') pid = pid * 10 + (*p++ - '0');
  return pid;
}

// True if this process's children are traced from birth: it runs under a tracer that follows
// forks (an enclosing bmake's filemon, `strace -f`, a debugger). ptrace gives a process one
// tracer, so they cannot be traced again; the FreeBSD device would instead move the child to
// the inner filemon ("Bmake .META + .MAKE relies on this"), which ptrace cannot do.
bool ProbeChildrenBornTraced() {
  if (TracerPid() == 0) return false;
  pid_t probe = ::fork();
  if (probe == 0) ::_exit(TracerPid() != 0 ? 1 : 0);
  if (probe < 0) return false;
  int status = 0;
  while (::waitpid(probe, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

// `ProbeChildrenBornTraced()` once per process (bmake opens a filemon per command; a tracer
// comes with the process's start, as the enclosing trace that starts a nested bmake): the
// answer of this process's first filemon_open. A forked child asks again. `self`: its pid.
bool ChildrenBornTraced(pid_t self) {
  static std::atomic<pid_t> asked_by{0};
  static std::atomic<bool> answer{false};
  if (asked_by.load(std::memory_order_acquire) == self) {
    return answer.load(std::memory_order_relaxed);
  }
  const bool traced = ProbeChildrenBornTraced();
  answer.store(traced, std::memory_order_relaxed);
  asked_by.store(self, std::memory_order_release);
  return traced;
}
#endif

#if defined(FILEMON_BMAKE_SESSIONS)
// True if this process's sessions take their child over from an enclosing preload trace
// (FreeBSD's rule, bmake_filemon.h "Nested"): preload's and auto's do, at the child's exec.
bool SessionsHandOver() {
  const std::string name = SessionBackendName();
  return name == "preload" || name == "auto";
}

// One backend for the whole process, made at the first filemon_open (bmake opens a filemon per
// target or job): what a backend finds once (preload's interposer and helper) is not looked
// for again per command. Never destroyed, like filemon_path()'s string.
//
// It also turns off absl::Mutex's deadlock detection for the process. An Abseil built without
// NDEBUG (Debian's shared libabsl is) keeps a global graph of every mutex locked, which
// each session's mutexes (a new traced tree per command) enter at their first lock and leave
// at their destruction, under a global lock. bmake itself uses no Abseil: the setting reaches
// only this library's mutexes, whose order the library's tests check in their own builds.
absl::StatusOr<filemon::Backend*> SharedBackend() {
  static const absl::StatusOr<filemon::Backend*>* const shared = [] {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    absl::StatusOr<std::unique_ptr<filemon::Backend>> made =
        filemon::MakeBackend(SessionBackendName());
    if (!made.ok()) return new absl::StatusOr<filemon::Backend*>(made.status());
    return new absl::StatusOr<filemon::Backend*>(made->release());
  }();
  return *shared;
}
#endif

// A session started ahead for a next child that never came (most targets run one command),
// kept for the next handle of the process instead of being destroyed: every command would
// otherwise pay for two sessions (preload: a pipe, an eventfd, an environment; ptrace: a tracer).
struct SpareSession {
  absl::Mutex mu;
  std::unique_ptr<filemon::TraceSession> session ABSL_GUARDED_BY(mu);
};
SpareSession& Spare() {
  static SpareSession* const spare = new SpareSession;
  return *spare;
}

int StartSession(struct filemon_handle* F) {
  {
    SpareSession& spare = Spare();
    absl::MutexLock lock(&spare.mu);
    if (spare.session != nullptr) {
      F->session = std::move(spare.session);
      return 0;
    }
  }
  absl::StatusOr<std::unique_ptr<filemon::TraceSession>> session =
      F->backend->StartSession(filemon::TraceOptions());
  if (!session.ok()) return Fail(F, Report(session.status()));
  F->session = *std::move(session);
  return 0;
}

// The current child's tree is done: its records are in the writer's buffer, which reaches the
// log when it fills and at filemon_close (where bmake reads the log back), not per child: one
// write(2) of the log file less per command. Get ready for the next child.
int ChildDone(struct filemon_handle* F) {
  F->child = -1;
  F->session.reset();
  if (absl::Status s = F->writer->status(); !s.ok()) return Fail(F, Report(s));
  return StartSession(F);
}

}  // namespace

extern "C" {

const char* filemon_path(void) {
  static const std::string* const path = new std::string(
      filemon::PlatformHasFilemonDevice() ? filemon::kFilemonDevicePath : SessionBackendName());
  return path->c_str();
}

struct filemon_handle* filemon_open(void) {
  std::unique_ptr<struct filemon_handle> F(new (std::nothrow) struct filemon_handle);
  if (F == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  if (filemon::PlatformHasFilemonDevice()) {
    // As bmake's filemon_dev.c: up to six attempts, errno of the last one.
    int fd = -1;
    for (int attempt = 0; attempt < 6 && fd < 0; ++attempt) {
      fd = ::open(filemon::kFilemonDevicePath, O_RDWR | O_CLOEXEC);
    }
    if (fd < 0) return nullptr;  // errno from open(2)
    F->device = std::make_unique<filemon::FilemonDevice>(
        filemon::FilemonDevice::Adopt(fd, filemon::kFilemonDevicePath));
    return F.release();
  }
#if defined(FILEMON_BMAKE_SESSIONS)
  F->owner = filemon::ThisProcessId();
  if (ChildrenBornTraced(F->owner)) {
    // bmake then warns "Could not open filemon" and runs this make without it; the enclosing
    // trace still records every command.
    errno = Report(absl::FailedPreconditionError(
        "this process runs under a tracer that follows its children (an enclosing bmake's "
        "filemon, strace -f, a debugger); ptrace cannot trace them a second time"));
    return nullptr;
  }
  if (std::getenv("FILEMON_PRELOAD_FD") != nullptr && !SessionsHandOver()) {
    // Under an enclosing preload trace (an enclosing bmake's auto filemon), a session of
    // another backend would trace children that the enclosing interposer traces too. The
    // enclosing trace records every command instead, as under ptrace.
    errno = Report(absl::FailedPreconditionError(
        "this process runs under an enclosing preload trace (FILEMON_PRELOAD_FD is set: an "
        "enclosing bmake's filemon), which keeps its children unless this filemon is preload "
        "or auto"));
    return nullptr;
  }
  absl::StatusOr<filemon::Backend*> backend = SharedBackend();
  if (!backend.ok()) {
    errno = Report(backend.status());
    return nullptr;
  }
  F->backend = *backend;
  return F.release();
#else
  errno = Report(absl::UnavailableError(
      absl::StrCat("no ", filemon::kFilemonDevicePath, " and no tracing backend on this system")));
  return nullptr;
#endif
}

int filemon_setfd(struct filemon_handle* F, int fd) {
  if (F->device != nullptr) {
    // Ownership: closed in every case (filemon_dev.c closes it after a successful ioctl;
    // bmake exits on failure). The kernel holds its own reference.
    int error_number = F->device->SetLogFdErrno(fd);
    ::close(fd);
    if (error_number != 0) {
      errno = error_number;
      return -1;
    }
    return 0;
  }
  if (F->writer != nullptr) {
    ::close(fd);
    errno = EEXIST;  // as FILEMON_SET_FD
    return -1;
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
    if (flags >= 0) ::close(fd);
    errno = EBADF;  // "invalid or not opened for writing"
    return -1;
  }
  filemon::WriterOptions options;
  options.own_fd = true;
  F->writer = std::make_unique<filemon::Writer>(fd, options);
  // The header as FILEMON_SET_FD makes it ("Target pid" is the caller's pid, the start is
  // now), but into the writer's buffer: it reaches the file with the records at
  // filemon_close, one write(2) per command rather than two. Nobody sees the difference:
  // bmake's log is a temporary file it unlinks at once and reads back only after
  // filemon_close (meta.c, meta_open_filemon and filemon_read), and a write error still
  // fails the command, at the close (its error is the first one met, as the device's).
  F->writer->WriteHeader(F->owner, absl::Now());
  return StartSession(F);
}

void filemon_setpid_parent(struct filemon_handle* F, pid_t pid) {
  if (F->device != nullptr || F->session == nullptr) return;
  absl::Status s = F->session->SetChild(pid);
  if (!s.ok()) {
    Fail(F, Report(s));
    return;
  }
  if (pid <= 0) {  // fork failed: that session is over; ready the next one
    ChildDone(F);
    return;
  }
  F->child = pid;
}

int filemon_setpid_child(const struct filemon_handle* F, pid_t pid) {
  int error_number;
  if (F->device != nullptr) {
    error_number = F->device->SetPidInChild(pid);
  } else if (F->session == nullptr) {
    error_number = EBADF;  // no log set
  } else {
    // `pid` is the caller itself (bmake passes getpid()); the session traces the caller.
    error_number = F->session->PrepareChild();
  }
  if (error_number != 0) {
    errno = error_number;
    return -1;
  }
  return 0;
}

int filemon_readfd(const struct filemon_handle* F) {
  if (F->device != nullptr || F->child < 0 || F->session == nullptr) return -1;
  return F->session->ReadFd();
}

int filemon_process(struct filemon_handle* F) {
  if (F->device != nullptr || F->child < 0) return 0;
  // What is ready first: after the caller reaped its child (bmake's meta_cmd_finish loop) the
  // tree is usually done then, and whether it was reaped needs no asking. If it is not done,
  // once the caller has reaped its child nothing but the end of the trace (orphans) is left to
  // wait for: block for it instead of spinning. Before that (the event loop, called when
  // filemon_readfd is readable), return.
  absl::StatusOr<bool> done = F->session->Process(F->writer.get());
  if (!done.ok()) {
    ChildDone(F);
    return Fail(F, Report(done.status()));
  }
  if (!*done) {
    if (!Reaped(F->child)) return 1;
    if (absl::Status s = F->session->Finish(F->writer.get()); !s.ok()) {
      ChildDone(F);
      return Fail(F, Report(s));
    }
  }
  return ChildDone(F) == 0 ? 0 : -1;
}

int filemon_close(struct filemon_handle* F) {
  std::unique_ptr<struct filemon_handle> owned(F);  // freed on every path
  int error_number = 0;
  if (F->device != nullptr) {
    error_number = F->device->CloseErrno();
  } else if (F->writer != nullptr) {
    if (F->child >= 0) {
      if (absl::Status s = F->session->Finish(F->writer.get()); !s.ok()) {
        error_number = Report(s);
      }
    }
    if (F->child < 0 && F->session != nullptr) {
      // Never given a child: the next handle takes it (a spare already kept is dropped).
      SpareSession& spare = Spare();
      absl::MutexLock lock(&spare.mu);
      spare.session = std::move(F->session);
    }
    F->session.reset();
    F->writer->WriteFooter(absl::Now());
    if (absl::Status s = F->writer->Close(); !s.ok() && error_number == 0) {
      error_number = Report(s);
    }
    if (F->first_error != 0) error_number = F->first_error;
  }
  if (error_number != 0) {
    errno = error_number;
    return -1;
  }
  return 0;
}

}  // extern "C"
