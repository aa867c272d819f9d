// File: filemon/backends/bmake_filemon_tracer.h
//
// Internal to bmake_filemon.cc: bmake's filemon API on Linux, where the tracing is ptrace.
//
// Why a separate tracer process: bmake reaps its children with wait(2)/waitpid(-1), and on
// Linux a wait from any thread of the tracer's process also reports (and consumes) the ptrace
// stops of its tracees. So the tracer cannot live in bmake's process; `SetFd` forks it
// (twice, so that bmake never sees it as a child), and it owns the log from then on.
//
// The protocol (all descriptors close-on-exec):
//   control: a SOCK_SEQPACKET socket pair. A child sends {kTrace, getpid()} and waits for
//            {error}; bmake sends {kClose} from `Close`.
//   status:  a pipe from the tracer to bmake: {kReady, tracer pid} once, {kDone, pid, error}
//            when a traced child has exited and its records are in the log, {kClosed, 0, error}
//            after the footer is written (error: the first failure writing the log).
// The header is written by `SetFd` itself, before the tracer starts (FreeBSD writes it at
// FILEMON_SET_FD); its "Target pid" is the caller's pid, as on FreeBSD.
//
// Example: see bmake_filemon.h; `struct filemon` holds one BmakeTracerClient.

#ifndef FILEMON_BACKENDS_BMAKE_FILEMON_TRACER_H_
#define FILEMON_BACKENDS_BMAKE_FILEMON_TRACER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "filemon/core/record_sink.h"

namespace filemon {

// bmake's side of the protocol. The methods return what the C API returns (0, >0, or -1 with
// errno set), except `Close`, which returns 0 or an errno. Not thread-safe.
class BmakeTracerClient {
 public:
  BmakeTracerClient() = default;
  BmakeTracerClient(const BmakeTracerClient&) = delete;  // owns descriptors and a process
  BmakeTracerClient& operator=(const BmakeTracerClient&) = delete;
  ~BmakeTracerClient();

  int SetFd(int fd);
  void SetPidParent(pid_t pid);
  // Async-signal-safe; works after vfork (touches no memory but its stack).
  int SetPidChild(pid_t pid) const;
  int ReadFd() const { return status_fd_; }
  int Process();
  int Close();

 private:
  // Reads one status message; false at EOF or on error (errno set).
  bool ReadStatus(int32_t* kind, int32_t* pid, int32_t* error_number);
  // Waits for the status descriptor to become readable. False if the child named by
  // SetPidParent vanished without being traced (died before filemon_setpid_child).
  bool WaitReadable();
  void CloseDescriptors();

  pid_t tracer_ = -1;
  int control_fd_ = -1;
  int status_fd_ = -1;
  int pending_ = 0;  // children named with SetPidParent whose kDone is not yet read
  pid_t last_child_ = -1;
  int first_error_ = 0;  // the first error any message reported
};

// The tracer's work for one announced child (implemented over the ptrace backend): seize
// `pid`, which has consented (PR_SET_PTRACER) and is blocked waiting for its answer; call
// `answer(0)` once it is traced, or `answer(errno)` if it cannot be; then stream the records of
// `pid` and its descendants into `sink` until `pid` exits, and detach from any descendant still
// running (FreeBSD likewise stops logging at close). Returns the tracer's own failures.
absl::Status TraceAnnouncedChild(pid_t pid, const std::function<void(int)>& answer,
                                 RecordSink* sink);

}  // namespace filemon

#endif  // FILEMON_BACKENDS_BMAKE_FILEMON_TRACER_H_
