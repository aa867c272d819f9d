#include "filemon/backends/ebpf/ebpf_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "filemon/backends/ebpf/event_reader.h"
#include "filemon/backends/ebpf/loader.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/run_control_internal.h"

namespace filemon {
namespace ebpf_internal {
namespace {

class EbpfSession : public TraceSession {
 public:
  explicit EbpfSession(const TraceOptions& options) : reader_(options, nullptr) {}
  ~EbpfSession() override;

  absl::Status Start(const TraceOptions& options, size_t ring_bytes);
  int PrepareChild() const override;
  absl::Status SetChild(int pid) override;
  int ReadFd() const override { return program_.events_fd(); }
  absl::StatusOr<bool> Process(RecordSink* sink) override;
  absl::Status Finish(RecordSink* sink) override;

 private:
  // Marks the session done when the tree is; then a lost record is the session's error.
  absl::StatusOr<bool> CheckDone(RecordSink* sink);

  EventReader reader_;
  Program program_;
  OwnedFd ready_read_, ready_write_;  // the child: "in the traced map" (its setup is not traced)
  bool child_set_ = false;            // a child is traced
  bool done_ = false;
};

EbpfSession::~EbpfSession() {
  // Destroyed before the tree is done: the tree is killed, as the contract says.
  if (child_set_ && !done_) {
    TreeSignals kill_all;
    kill_all.all = uint64_t{1} << (SIGKILL - 1);
    SignalTree(program_, kill_all);
  }
}

absl::Status EbpfSession::Start(const TraceOptions& options, size_t ring_bytes) {
  absl::Status loaded = LoadProgram(options, ring_bytes, &reader_, &program_);
  if (!loaded.ok()) return loaded;
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  ready_read_.reset(ready[0]);
  ready_write_.reset(ready[1]);
  return absl::OkStatus();
}

// The child puts itself in the traced map: it never waits for the parent, which a vfork
// (bmake's) has suspended until the child execs.
int EbpfSession::PrepareChild() const {
  if (int error = program_.AddSelf(); error != 0) return error;
  return write(ready_write_.get(), "r", 1) == 1 ? 0 : errno;
}

absl::Status EbpfSession::SetChild(int pid) {
  ready_write_.reset();
  if (pid < 0) {
    done_ = true;
    return absl::OkStatus();
  }
  char ready = 0;
  ssize_t n;
  while ((n = read(ready_read_.get(), &ready, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) {  // the child died before PrepareChild succeeded: nothing to trace
    done_ = true;
    return absl::OkStatus();
  }
  reader_.AddRoot(static_cast<uint32_t>(pid));
  child_set_ = true;
  return absl::OkStatus();
}

absl::StatusOr<bool> EbpfSession::CheckDone(RecordSink* sink) {
  if (done_) return true;
  uint64_t lost = program_.lost_records() + reader_.malformed();
  // The events say when the last process exited; if some were lost, the kernel's map does.
  bool gone = reader_.live() == 0 || (lost != 0 && TreeEmpty(program_));
  if (!child_set_ || !gone) return false;
  program_.Consume();
  done_ = true;
  absl::Status losses = reader_.ReportLosses(program_.lost_records(), sink);
  if (!losses.ok()) return losses;
  return true;
}

absl::StatusOr<bool> EbpfSession::Process(RecordSink* sink) {
  if (done_) return true;
  reader_.set_sink(sink);
  program_.Consume();
  return CheckDone(sink);
}

absl::Status EbpfSession::Finish(RecordSink* sink) {
  if (!child_set_ && !done_) {
    absl::Status s = SetChild(-1);
    if (!s.ok()) return s;
  }
  for (;;) {
    absl::StatusOr<bool> done = Process(sink);
    if (!done.ok()) return done.status();
    if (*done) return absl::OkStatus();
    pollfd p{program_.events_fd(), POLLIN, 0};
    poll(&p, 1, 100);  // also a tick for the map check when events were lost
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<TraceSession>> StartEbpfSession(const TraceOptions& options,
                                                               size_t ring_bytes) {
  auto session = std::make_unique<EbpfSession>(options);
  absl::Status started = session->Start(options, ring_bytes);
  if (!started.ok()) return started;
  return std::unique_ptr<TraceSession>(std::move(session));
}

}  // namespace ebpf_internal
}  // namespace filemon
