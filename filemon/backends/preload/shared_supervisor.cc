#include "filemon/backends/preload/shared_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "filemon/backends/per_process.h"
#include "filemon/backends/preload/launch_environment.h"
#include "filemon/backends/preload/pidfd_exit.h"
#include "filemon/backends/preload/pump.h"
#include "filemon/backends/preload/pump_wait.h"
#include "filemon/backends/preload/record_dispatcher.h"
#include "filemon/backends/preload/supervisor_channel.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/record.h"

namespace filemon {
namespace preload_internal {
namespace {

using absl::StrCat;

// How long the thread keeps ticking once no tree is traced, before it sleeps until woken: a
// caller such as bmake starts its next command well within it.
constexpr double kIdleTicksMs = 1000;

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

}  // namespace

// What a tree's caller and the supervisor thread share. The thread's fields are read and
// written by the thread alone once the tree is submitted.
struct TreeState : public RecordSink {
  // Set before the tree is submitted.
  OwnedFd pipe_read;  // non-blocking
  size_t pipe_capacity = 64 << 10;
  pid_t root = -1;
  OwnedFd root_pidfd;
  uint64_t id = 0;  // names the tree in the supervisor's epoll set (never reused)

  // The thread's.
  bool adopted = false;
  bool pipe_gone = false, root_exited = false;
  PidfdExit root_exit;  // how the root ended, once it did (the caller reaps it)
  size_t refused_before = 0, forged_before = 0;
  size_t added = 0;  // records the dispatcher wrote here

  // Shared with the caller.
  absl::Mutex mu;
  RecordQueue queue ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;
  bool dropped ABSL_GUARDED_BY(mu) = false;  // the caller's TracedTree is gone
  // An eventfd, written once done; made at the caller's first ReadFd only: a caller that
  // never polls (bmake's compat mode) pays no descriptor and no write per command.
  OwnedFd ready ABSL_GUARDED_BY(mu);

  // The dispatcher's sink for this tree (the thread).
  void Add(const Record& record) override {
    ++added;
    absl::MutexLock lock(&mu);
    queue.Push(record);
  }

  bool ended() const { return pipe_gone && (!root_pidfd.valid() || root_exited); }

  // The root has exited (its pidfd polled readable): its status, without reaping it (the
  // caller does).
  void PeekRoot() {
    root_exited = true;
    root_exit = ReadPidfdExit(root_pidfd.get());
  }

  void MarkDone() {
    int fd;
    {
      absl::MutexLock lock(&mu);
      done = true;
      fd = ready.get();
    }
    if (fd >= 0) SignalReady(fd);
  }

  static void SignalReady(int fd) {
    const uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) < 0) {
    }
  }
};

// The thread: one pump over the shared channel and every tree's pipe. It waits as a run's
// supervisor does (pump_wait.h: the pipes drained on an adaptive tick, never woken by a
// write), and also for the trees' roots' pidfds (an epoll set the callers add them to, so that
// a new command needs no wakeup: Submit), then for a tree's pipe's hangup (POLLHUP needs no
// event bit: no wakeup per write). Watching the pipe only once the root has exited (SeeEnds)
// makes a command's end one wakeup, not two. A tree whose pipe hung up and whose root exited
// is finished after its pipe is read to the end. Every wakeup adopts the trees submitted
// since the last one first, so that whatever woke the thread (a root's exit, a reconnecting
// process, a message on the socket) finds its tree known.
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

  const SupervisorChannel& channel() const { return channel_; }

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

  SupervisorChannel channel_;  // its child socket is constant: read by any thread
  OwnedFd locale_shm_;         // held for as long as the process lives
  OwnedFd wake_;               // eventfd: the thread sleeps without a timeout and is needed
  OwnedFd roots_;              // epoll: the submitted trees' root pidfds, one-shot

  absl::Mutex mu_;
  std::vector<std::shared_ptr<TreeState>> submitted_ ABSL_GUARDED_BY(mu_);
  bool asleep_ ABSL_GUARDED_BY(mu_) = false;  // in poll without a timeout: Submit wakes it
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;

  // The thread's.
  RecordDispatcher dispatcher_;
  Pump pump_;
  std::vector<std::shared_ptr<TreeState>> active_;
  int tick_ms_ = 1;
  double last_drain_ms_;
  double idle_since_ms_ = 0;  // when the last tree ended (the thread's)
};

// A started tree is not announced by a wakeup (the thread would pay a context switch per
// command for it): its root's pidfd goes into the thread's epoll set, which wakes the thread
// when the root exits, and the thread adopts it at its next tick at the latest. The thread is
// woken only when it sleeps without a timeout, for a dropped tree, or for a tree without a
// pidfd (kernels before 5.3: its pipe's hangup is its end, watched from its adoption).
void SharedSupervisor::Impl::Submit(std::shared_ptr<TreeState> state) {
  TreeState* tree = state.get();
  bool dropped;  // set by the caller's thread, this one
  {
    absl::MutexLock lock(&tree->mu);
    dropped = tree->dropped;
  }
  bool wake;
  {
    absl::MutexLock lock(&mu_);
    if (tree->id == 0) tree->id = next_id_++;
    wake = asleep_ || dropped || !tree->root_pidfd.valid();
    if (wake) asleep_ = false;
    submitted_.push_back(std::move(state));
    // After the push: the epoll's event finds the tree submitted. Once only: a tree is
    // submitted again only when dropped.
    if (!dropped && tree->root_pidfd.valid()) {
      struct epoll_event event {};
      event.events = EPOLLIN | EPOLLONESHOT;
      event.data.u64 = tree->id;
      if (epoll_ctl(roots_.get(), EPOLL_CTL_ADD, tree->root_pidfd.get(), &event) != 0) {
        tree->root_pidfd.reset();  // its end is its pipe's hangup then
        wake = true;
      }
    }
  }
  if (wake) {
    const uint64_t one = 1;
    if (write(wake_.get(), &one, sizeof(one)) < 0) {
    }
  }
}

// Takes the trees submitted since the last wait: a new one is routed and read from now on; a
// dropped one is forgotten (its pipe closed: its writers end at their next record).
void SharedSupervisor::Impl::Adopt() {
  std::vector<std::shared_ptr<TreeState>> submitted;
  {
    absl::MutexLock lock(&mu_);
    submitted.swap(submitted_);
  }
  for (std::shared_ptr<TreeState>& tree : submitted) {
    bool dropped;
    {
      absl::MutexLock lock(&tree->mu);
      dropped = tree->dropped;
    }
    if (!tree->adopted && !dropped) {
      tree->adopted = true;
      tree->refused_before = channel_.refused();
      tree->forged_before = pump_.forged();
      dispatcher_.AddRoot(tree->root, tree.get());
      pump_.AddTreeRoot(tree->root, tree.get());
      pump_.AddPipe(tree->pipe_read.get(), tree.get());
      active_.push_back(std::move(tree));
    } else if (tree->adopted && dropped) {
      Drop(tree.get());
    }
  }
}

void SharedSupervisor::Impl::Drop(TreeState* tree) {
  pump_.RemovePipe(tree->pipe_read.get());
  tree->pipe_read.reset();
  dispatcher_.RemoveSink(tree);
  pump_.RemoveTreeRoot(tree->root);
  active_.erase(
      std::remove_if(active_.begin(), active_.end(),
                     [tree](const std::shared_ptr<TreeState>& t) { return t.get() == tree; }),
      active_.end());
}

// How long the next poll may sleep: the tick while trees are read; without any, the longest
// tick for a while (a tree submitted meanwhile is adopted at it, unannounced), then without a
// timeout, from which Submit wakes the thread.
int SharedSupervisor::Impl::SleepMs() {
  if (!active_.empty()) return tick_ms_;
  const double now = NowMs();
  if (idle_since_ms_ == 0) idle_since_ms_ = now;
  if (now - idle_since_ms_ < kIdleTicksMs) return TickWait::kMaxTickMs;
  absl::MutexLock lock(&mu_);
  if (!submitted_.empty()) return 0;
  asleep_ = true;
  return -1;
}

absl::StatusOr<WaitStrategy::Wakeup> SharedSupervisor::Impl::Wait(std::vector<pollfd>* fds) {
  Adopt();
  const size_t own = fds->size();
  for (pollfd& p : *fds) {
    if (p.fd == channel_.control()) p.fd = -1;  // no reaper holds its other end: hung up
  }
  fds->push_back({roots_.get(), POLLIN, 0});
  // A tree's pipe is watched for its hangup (no event bit: no wakeup per write) only once its
  // root has exited, or if the root has no pidfd.
  std::vector<TreeState*> hangups;
  for (const std::shared_ptr<TreeState>& tree : active_) {
    const bool watch_root = tree->root_pidfd.valid() && !tree->root_exited;
    if (tree->pipe_gone || watch_root) continue;
    fds->push_back({tree->pipe_read.get(), 0, 0});
    hangups.push_back(tree.get());
  }
  const int sleep_ms = SleepMs();
  int n;
  do {
    n = poll(fds->data(), fds->size(), sleep_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "preload supervisor: poll");
  if (sleep_ms < 0) {
    absl::MutexLock lock(&mu_);
    asleep_ = false;
  }
  // Before Adopt, which may drop a tree, and free it, once its caller gave it up.
  for (size_t h = 0; n > 0 && h < hangups.size(); ++h) {
    if ((*fds)[own + 1 + h].revents != 0) hangups[h]->pipe_gone = true;
  }
  Adopt();  // the trees submitted while it slept: an exited root's event names one of them
  if (!active_.empty()) idle_since_ms_ = 0;
  Wakeup wakeup;
  bool sockets = false;
  for (size_t i = 1; n > 0 && i < own; ++i) sockets = sockets || (*fds)[i].revents != 0;
  const bool ended = SeeEnds(*fds, own, n > 0, &sockets);
  wakeup.watched_exited = ended;
  // The pipe of a tree that ended is read to its end as the tree is finished (FinishTree); a
  // reconnection waiting for its decision needs the decision, which a drain of everything
  // makes.
  if (sockets || (ended && channel_.has_waiting_peers())) {
    wakeup.drain = Drain::kAll;
  } else if (!active_.empty() && !ended) {
    wakeup.drain = Drain::kPipe;
  }
  return wakeup;
}

// After a poll over `fds` (the pump's own descriptors up to `own`, then the roots' epoll, then
// the pipes watched for their hangup;
// `polled`: it found something): whether a tree has ended, and `*sockets` set if the sockets
// must be read for it. The root holds its pipe until it exits and releases it just before its
// exit is reported, so the pipe of a root seen exited is asked at once. A tree that ended
// needs the sockets read only if they are readable once its end is known (its processes all
// exited before: whatever they sent is queued); poll scans in order, so they are asked again
// after those pipes, in the same poll without waiting. Reading idle sockets would cost an
// accept4 that allocates a socket to find none, and two recvs, per command.
bool SharedSupervisor::Impl::SeeEnds(const std::vector<pollfd>& fds, size_t own, bool polled,
                                     bool* sockets) {
  std::vector<pollfd> again;
  std::vector<TreeState*> asked;
  std::vector<TreeState*> exited;
  if (polled && fds[own].revents != 0) RootsExited(&exited);
  for (TreeState* tree : exited) {
    tree->PeekRoot();
    if (!tree->pipe_gone) {
      again.push_back({tree->pipe_read.get(), 0, 0});
      asked.push_back(tree);
    }
  }
  bool ended = false;
  for (const std::shared_ptr<TreeState>& tree : active_) ended = ended || tree->ended();
  if (asked.empty() && (!ended || *sockets)) return ended;
  const size_t pipes = again.size();
  again.insert(again.end(), fds.begin() + 1, fds.begin() + static_cast<std::ptrdiff_t>(own));
  for (pollfd& p : again) p.revents = 0;
  if (poll(again.data(), again.size(), 0) <= 0) return ended;
  for (size_t i = 0; i < pipes; ++i) {
    if (again[i].revents == 0) continue;
    asked[i]->pipe_gone = true;
    ended = ended || asked[i]->ended();
  }
  for (size_t i = pipes; i < again.size(); ++i) *sockets = *sockets || again[i].revents != 0;
  return ended;
}

// The active trees whose root's pidfd the epoll reports readable (each once: one-shot). A
// tree submitted since the wakeup's Adopt may be one of them (Submit adds its pidfd to the
// epoll after queueing it, under the same lock): the queue is adopted once the events are
// taken, so that no event is consumed for a tree not yet known.
void SharedSupervisor::Impl::RootsExited(std::vector<TreeState*>* exited) {
  std::vector<uint64_t> ids;
  struct epoll_event events[32];
  int n;
  do {
    n = epoll_wait(roots_.get(), events, 32, 0);
    for (int i = 0; i < n; ++i) ids.push_back(events[i].data.u64);
  } while (n == 32);
  if (ids.empty()) return;
  Adopt();
  for (uint64_t id : ids) {
    for (const std::shared_ptr<TreeState>& tree : active_) {
      // An id of no active tree: one dropped before its root exited.
      if (tree->id == id && !tree->root_exited) exited->push_back(tree.get());
    }
  }
}

void SharedSupervisor::Impl::Drained(size_t /*messages*/, size_t pipe_bytes) {
  size_t capacity = 0;
  for (const std::shared_ptr<TreeState>& tree : active_) {
    if (capacity == 0 || tree->pipe_capacity < capacity) capacity = tree->pipe_capacity;
  }
  const double now = NowMs();
  if (capacity > 0) {
    tick_ms_ = NextTickMs(pipe_bytes, capacity, now - last_drain_ms_, TickWait::kMaxTickMs);
  }
  last_drain_ms_ = now;
}

// Records of `tree`'s log are only its own processes': what `from` sent for others' is said.
void SharedSupervisor::Impl::AddRefusals(TreeState* tree, const RecordDispatcher::Refused& refused,
                                         absl::string_view from) {
  if (refused.count == 0) return;
  tree->Add(Record::Comment(StrCat(" preload: refused ", refused.count, " records that ", from,
                                   " sent for processes outside their tree (first: pid ",
                                   refused.first_sender, " for pid ", refused.first_claimed, ")")));
}

// Everything the tree sent is read (the pump drained every source after its hangup): its
// root's X if it wrote none (a signal killed it, its exec failed, it ran a program the
// interposer could not enter, it spawned into a nested trace), what the log must say, and the
// caller is told.
void SharedSupervisor::Impl::FinishTree(TreeState* tree, const absl::Status& status) {
  pump_.RemovePipe(tree->pipe_read.get());
  // The root is routed to the tree from the start: whether it sent anything is whether the
  // tree got a record (the root's interposer writes E first).
  const bool root_sent = tree->added > 0;
  if (!tree->root_exited) tree->PeekRoot();  // its pipe's end came first
  if (tree->root_exit.known) {
    dispatcher_.HandleRootExit(tree->root, tree->root_exit.code, tree->root_exit.signal);
  }
  AddRefusals(tree, dispatcher_.TakeRefused(tree), "processes of this tree");
  AddRefusals(tree, dispatcher_.TakeRefused(nullptr), "processes of no traced tree");
  dispatcher_.RemoveSink(tree);  // writes the X held for programs the interposer cannot enter
  pump_.RemoveTreeRoot(tree->root);
  if (!root_sent) {
    tree->Add(Record::Comment(
        StrCat(" preload: pid ", tree->root,
               " sent no record: a program the interposer cannot enter (statically linked, 32-bit, "
               "Go, set-ID), exec'd by the caller itself, is not traced, nor is one whose argv and "
               "environment left no room for the interposer's variables (E2BIG)")));
  }
  if (channel_.refused() > tree->refused_before) {
    tree->Add(Record::Comment(
        StrCat(" preload: refused ", channel_.refused() - tree->refused_before,
               " connections from outside the traced trees (first: pid ",
               channel_.first_refused().pid, " uid ", channel_.first_refused().uid, ")")));
  }
  if (pump_.forged() > tree->forged_before) {
    tree->Add(Record::Comment(StrCat(" preload: ignored ", pump_.forged() - tree->forged_before,
                                     " control messages sent by traced processes")));
  }
  if (!status.ok()) {
    tree->Add(Record::Comment(StrCat(" preload: supervisor error: ", status.ToString())));
  }
  tree->pipe_read.reset();
  tree->MarkDone();
}

// `run`: the pump's wait failed (poll's error), which ends every tree now, with the error in
// its log, rather than never. A framing error of the pump (one writer's bug) is said in the
// log of each tree that ends after it, and ends none.
void SharedSupervisor::Impl::FinishEnded(const absl::Status& run) {
  std::vector<std::shared_ptr<TreeState>> ended;
  for (const std::shared_ptr<TreeState>& tree : active_) {
    if (tree->ended() || !run.ok()) ended.push_back(tree);
  }
  for (const std::shared_ptr<TreeState>& tree : ended) {
    FinishTree(tree.get(), run.ok() ? pump_.status() : run);
    active_.erase(std::find(active_.begin(), active_.end(), tree));
  }
}

void SharedSupervisor::Impl::Loop() {
  while (true) {
    const absl::Status run = pump_.Run(this, wake_.get());
    FinishEnded(run);
    if (!run.ok()) usleep(10 * 1000);  // not a busy loop if poll keeps failing
  }
}

SharedSupervisor::SharedSupervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

int SharedSupervisor::child_socket() const { return impl_->channel().child_socket(); }
const std::string& SharedSupervisor::socket_name() const { return impl_->channel().socket_name(); }

void SharedSupervisor::Submit(std::shared_ptr<TreeState> state) { impl_->Submit(std::move(state)); }

absl::StatusOr<SharedSupervisor*> SharedSupervisor::ForThisProcess() {
  static PerProcess<SharedSupervisor> supervisors;  // a forked child makes its own
  return supervisors.Get(&SharedSupervisor::Make);
}

absl::StatusOr<SharedSupervisor*> SharedSupervisor::Make() {
  absl::StatusOr<SupervisorChannel> channel = SupervisorChannel::Open();
  if (!channel.ok()) return channel.status();
  channel->ShareSocketOnly();
  OwnedFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return absl::ErrnoToStatus(errno, "eventfd(preload supervisor)");
  OwnedFd roots(epoll_create1(EPOLL_CLOEXEC));
  if (!roots.valid()) return absl::ErrnoToStatus(errno, "epoll_create1(preload supervisor)");
  std::string locale_shm_path;
  OwnedFd locale_shm = CreateLocaleShm(&locale_shm_path);
  auto impl = std::make_unique<Impl>(*std::move(channel), std::move(locale_shm), std::move(wake),
                                     std::move(roots));
  Impl* thread_impl = impl.get();
  auto* supervisor = new SharedSupervisor(std::move(impl));
  supervisor->locale_shm_path_ = std::move(locale_shm_path);
  // The thread blocks every signal (the caller's handlers run in its own threads) but those a
  // fault raises in the thread itself: blocked, such a signal kills the process. One is SIGSYS
  // of Syscall User Dispatch: under an enclosing preload trace (a nested bmake) that trace's
  // interposer traps libc's system calls in some calls this thread makes (sysconf's processor
  // count, for a contended lock) and needs its handler to run here.
  sigset_t all, old;
  sigfillset(&all);
  for (int fault : {SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) sigdelset(&all, fault);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread thread(&Impl::Loop, thread_impl);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  thread.detach();
  return supervisor;
}

absl::StatusOr<std::unique_ptr<TracedTree>> SharedSupervisor::NewTree() {
  auto state = std::make_shared<TreeState>();
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2(preload tree)");
  OwnedFd read_end(p[0]), write_end(p[1]);
  // As large as an unprivileged process may make it (supervisor_channel.h).
  const int capacity = fcntl(read_end.get(), F_SETPIPE_SZ, 1 << 20);  // the size it got
  if (capacity > 0) state->pipe_capacity = static_cast<size_t>(capacity);
  fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
  // Out of the way of the programs' low descriptors, beside the socket.
  OwnedFd child(fcntl(write_end.get(), F_DUPFD_CLOEXEC, child_socket() + 1));
  if (!child.valid()) return absl::ErrnoToStatus(errno, "fcntl(F_DUPFD_CLOEXEC, preload tree)");
  state->pipe_read = std::move(read_end);
  return std::unique_ptr<TracedTree>(new TracedTree(this, std::move(state), std::move(child)));
}

TracedTree::~TracedTree() {
  if (!started_) return;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->done) return;
    state_->dropped = true;
    // Before it is done: the root is killed (through its pidfd: never another process that
    // reuses its pid); the rest of the tree ends at its next record once the pipe is closed.
    if (state_->root_pidfd.valid()) {
      syscall(SYS_pidfd_send_signal, state_->root_pidfd.get(), SIGKILL, 0, 0);
    }
  }
  supervisor_->Submit(state_);
}

int TracedTree::ready_fd() const {
  absl::MutexLock lock(&state_->mu);
  if (!state_->ready.valid()) {
    state_->ready.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    // Done already: MarkDone found no descriptor to write.
    if (state_->ready.valid() && state_->done) TreeState::SignalReady(state_->ready.get());
  }
  return state_->ready.get();
}

void TracedTree::Start(pid_t root) {
  started_ = true;
  child_pipe_.reset();
  if (root <= 0) {
    state_->MarkDone();  // no child: nothing to trace
    return;
  }
  state_->root = root;
  state_->root_pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, root, 0)));
  supervisor_->Submit(state_);
}

bool TracedTree::Take(RecordSink* sink) {
  RecordQueue ready;
  bool done;
  {
    absl::MutexLock lock(&state_->mu);
    ready.Swap(&state_->queue);
    done = state_->done;
  }
  ready.DeliverTo(sink);
  return done;
}

void TracedTree::Finish(RecordSink* sink) {
  {
    absl::MutexLock lock(&state_->mu);
    state_->mu.Await(absl::Condition(&state_->done));
  }
  Take(sink);
}

}  // namespace preload_internal
}  // namespace filemon
