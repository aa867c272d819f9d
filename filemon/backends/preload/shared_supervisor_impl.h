// File: filemon/backends/preload/shared_supervisor_impl.h
//
// The inside of the shared supervisor (shared_supervisor.h), shared by its two sides: the
// thread (shared_supervisor.cc) and a caller finishing its own tree (shared_supervisor_step.cc).
// Not part of the library's API.

#ifndef FILEMON_BACKENDS_PRELOAD_SHARED_SUPERVISOR_IMPL_H_
#define FILEMON_BACKENDS_PRELOAD_SHARED_SUPERVISOR_IMPL_H_

#include <poll.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "filemon/backends/preload/pidfd_exit.h"
#include "filemon/backends/preload/pump.h"
#include "filemon/backends/preload/pump_wait.h"
#include "filemon/backends/preload/record_dispatcher.h"
#include "filemon/backends/preload/shared_supervisor.h"
#include "filemon/backends/preload/supervisor_channel.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace preload_internal {

// Records kept for the caller, with their paths copied: the dispatcher's views end with the
// call, and the caller reads them from another thread later.
class RecordQueue {
 public:
  void Push(const Record& record) {
    Stored& s = stored_.emplace_back();
    s.record = record;
    s.path.assign(record.path.data(), record.path.size());
    s.path2.assign(record.path2.data(), record.path2.size());
  }
  void DeliverTo(RecordSink* sink) {
    for (Stored& s : stored_) {
      s.record.path = s.path;
      s.record.path2 = s.path2;
      sink->Add(s.record);
    }
    stored_.clear();
  }
  void Swap(RecordQueue* other) { stored_.swap(other->stored_); }

 private:
  struct Stored {
    Record record;
    std::string path, path2;
  };
  std::vector<Stored> stored_;
};

// What a caller's step did with its tree.
enum class StepResult {
  kFinished,    // it had ended: finished, its records are queued (or it was finished before)
  kRunning,     // still the caller's to step
  kHandedBack,  // the thread finishes it
};
// When a step that finds the tree running hands it to the thread.
enum class HandBackWhen {
  kIfRootExited,  // only orphans are left: nothing the caller waits for says when they end
  kAlways,
};

// What a tree's caller and the supervisor thread share.
struct TreeState : public RecordSink {
  // Set before the tree is submitted.
  OwnedFd pipe_read;  // non-blocking
  size_t pipe_capacity = 64 << 10;
  pid_t root = -1;
  OwnedFd root_pidfd;
  uint64_t id = 0;            // names the tree in the supervisor's epoll set (never reused)
  bool root_watched = false;  // its root's pidfd is in that set (under the supervisor's mu_)

  // Under the supervisor's work lock (Impl::work_): the thread's, or the caller's step's.
  bool adopted = false;
  bool handed_back = false;  // the thread watches its end: the caller's steps leave it alone
  bool finished = false;     // FinishTree or Drop ran
  bool pipe_gone = false, root_exited = false;
  // Handed back while the root ran, with no room for its pidfd in the thread's epoll set
  // (ENOSPC, ENOMEM): the pipe's hangup alone ends the tree. The pidfd stays open: a caller's
  // poll set may turn readable through it at the end (caller_poll_set), and FinishTree reads
  // the root's status through it.
  bool root_unwatched = false;
  PidfdExit root_exit;  // how the root ended, once it did (the caller reaps it)
  size_t refused_before = 0, forged_before = 0;
  size_t added = 0;  // records the dispatcher wrote here

  // Shared with the caller.
  absl::Mutex mu;
  RecordQueue queue ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;
  bool dropped ABSL_GUARDED_BY(mu) = false;  // the caller's TracedTree is gone
  // An eventfd, written once done; made only for a caller that polls a tree the thread
  // finishes (TracedTree::ready_fd): bmake's compat mode pays no descriptor and no write.
  OwnedFd ready ABSL_GUARDED_BY(mu);
  // The epoll set of a caller that polls (TracedTree::ready_fd) when no eventfd could be made
  // for it (EMFILE): the tree's end adds the root's pidfd back to it, which takes no new
  // descriptor: the pidfd, never closed before the TreeState (root_unwatched), is readable
  // from the root's exit on, which has come by the tree's end unless the root closed the pipe
  // itself and still runs. -1: none.
  int caller_poll_set ABSL_GUARDED_BY(mu) = -1;

  // The dispatcher's sink for this tree (under the work lock).
  void Add(const Record& record) override {
    ++added;
    absl::MutexLock lock(&mu);
    queue.Push(record);
  }

  // The root's exit is still to be seen through its pidfd before the tree can end.
  bool root_to_watch() const { return root_pidfd.valid() && !root_exited && !root_unwatched; }
  bool ended() const { return pipe_gone && !root_to_watch(); }

  // The root has exited (its pidfd polled readable). Its status, without reaping it (the
  // caller does), is read now where the kernel keeps none after the reaping; else only when
  // the tree is finished, if the log needs it (ReadRootExit: the root wrote no X of its own).
  void PeekRoot() {
    root_exited = true;
    if (!KernelKeepsReapedExit()) ReadRootExit();
  }
  void ReadRootExit() {
    if (!root_exit.known) root_exit = ReadPidfdExit(root_pidfd.get());
  }

  void MarkDone() {
    int fd;
    {
      absl::MutexLock lock(&mu);
      done = true;
      fd = ready.get();
      if (caller_poll_set >= 0) AddRootTo(caller_poll_set);  // under `mu`: the set stays open
    }
    if (fd >= 0) SignalReady(fd);
  }

  // The caller's poll set `set` turns readable once the tree is done (caller_poll_set).
  void ReadyThroughPollSet(int set) {
    absl::MutexLock lock(&mu);
    if (done) {
      AddRootTo(set);
    } else {
      caller_poll_set = set;
    }
  }

  void AddRootTo(int set) const {
    struct epoll_event event {};
    event.events = EPOLLIN;
    epoll_ctl(set, EPOLL_CTL_ADD, root_pidfd.get(), &event);
  }

  static void SignalReady(int fd) {
    const uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) < 0) {
    }
  }
};

// The thread: one pump over the shared channel and every tree's pipe. It waits as a run's
// supervisor does (pump_wait.h: the pipes drained on an adaptive tick, never woken by a
// write); a new command needs no wakeup either (Submit: the thread adopts it at its next
// tick). Nor does a command's end, as a rule: the caller finishes its own tree (`Step`), in its
// own thread, when it asks for the records after its root has exited (bmake reaps, then asks).
// Everything that reads or changes the pump, the dispatcher and the trees runs under `work_`,
// which the thread holds but while it sleeps in poll; a step is one round of the thread's
// loop, with a zero timeout, on the caller's tree alone.
//
// The thread watches the end of the trees handed back to it (`HandBack`: the root exited but
// an orphan holds the pipe, a caller that waits without asking, kernels without pidfd): the
// root's pidfd in an epoll set, then the pipe's hangup (POLLHUP needs no event bit: no wakeup
// per write). A caller never steps a tree handed back, which the thread's poll names while
// it sleeps unlocked. Every wakeup adopts the trees submitted since the last one first, so that
// whatever woke the thread (a root's exit, a reconnecting process, a message on the socket)
// finds its tree known.
class SharedSupervisor::Impl : public WaitStrategy, public ControlHandler {
 public:
  Impl(SupervisorChannel channel, OwnedFd locale_shm, OwnedFd wake, OwnedFd roots)
      : channel_(std::move(channel)),
        locale_shm_(std::move(locale_shm)),
        wake_(std::move(wake)),
        roots_(std::move(roots)),
        dispatcher_(/*fallback=*/nullptr),
        pump_(&channel_, &dispatcher_, this),
        last_drain_ms_(NowMs()) {
    pump_.CheckSenders();  // one tree's processes never write into another's log
  }

  void Loop();
  void Submit(std::shared_ptr<TreeState> state);
  // The caller's round of the loop for `tree` (its own thread, never the thread's tree, never
  // from a signal handler): reads its end without waiting and finishes it if it has ended;
  // else hands it to the thread if `hand_back` says so.
  StepResult Step(TreeState* tree, HandBackWhen hand_back);
  uint64_t woken() const { return woken_.load(std::memory_order_relaxed); }
  uint64_t roots_seen() const { return roots_seen_.load(std::memory_order_relaxed); }

  const SupervisorChannel& channel() const { return channel_; }

  // An empty epoll set for a caller that polls its tree (TracedTree::ready_fd): one kept by
  // the caller of an earlier tree, or a new one (-1, errno set, if it cannot be made).
  int TakePollSet();
  // Keeps the empty epoll set `set` for a next tree's caller (closes it if enough are kept).
  void KeepPollSet(int set);

  // WaitStrategy
  absl::StatusOr<Wakeup> Wait(std::vector<pollfd>* fds) override;
  void Drained(size_t messages, size_t pipe_bytes) override;
  // ControlHandler: no reaper, so no control message; the wake descriptor says a tree came.
  void OnControl(MessageType, const WireRecord&) override {}
  void OnWake() override {
    uint64_t count;
    if (read(wake_.get(), &count, sizeof(count)) < 0) {
    }
  }
  bool finished() const override { return false; }

 private:
  void Adopt();
  void Drop(TreeState* tree);
  void FinishTree(TreeState* tree, const absl::Status& status);
  static void AddRefusals(TreeState* tree, const RecordDispatcher::Refused& refused,
                          absl::string_view from);
  void FinishEnded(const absl::Status& status);
  int SleepMs();
  void RootsExited(std::vector<TreeState*>* exited);
  bool SeeEnds(const std::vector<pollfd>& fds, size_t own, bool polled, bool* sockets);
  absl::StatusOr<Wakeup> StepWait(std::vector<pollfd>* fds);
  void HandBack(TreeState* tree);
  void Deactivate(TreeState* tree);
  bool WatchRoot(TreeState* tree) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Wake();

  SupervisorChannel channel_;  // its child socket is constant: read by any thread
  OwnedFd locale_shm_;         // held for as long as the process lives
  OwnedFd wake_;               // eventfd: the thread sleeps without a timeout and is needed
  OwnedFd roots_;              // epoll: the handed-back trees' root pidfds, one-shot

  // Held by the thread but in its sleeping poll, and by a caller's step.
  absl::Mutex work_;
  TreeState* stepping_ = nullptr;   // the tree of the caller's step under way; null: the thread
  std::atomic<uint64_t> woken_{0};  // the thread's sleeps that an event ended (tests)
  std::atomic<uint64_t> roots_seen_{0};  // roots whose exit the thread saw first (tests)

  absl::Mutex mu_;
  std::vector<std::shared_ptr<TreeState>> submitted_ ABSL_GUARDED_BY(mu_);
  bool asleep_ ABSL_GUARDED_BY(mu_) = false;  // in poll without a timeout: Submit wakes it
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;

  // Empty epoll sets kept for the callers' next trees (-1: none); any thread takes and keeps.
  std::atomic<int> spare_poll_sets_[2] = {{-1}, {-1}};

  // Under `work_`.
  RecordDispatcher dispatcher_;
  Pump pump_;
  std::vector<std::shared_ptr<TreeState>> active_;
  int tick_ms_ = 1;
  double last_drain_ms_;
  double idle_since_ms_ = 0;  // when the last tree ended (the thread's)
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SHARED_SUPERVISOR_IMPL_H_
