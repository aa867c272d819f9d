#include "filemon/backends/preload/shared_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include "filemon/backends/preload/shared_supervisor_impl.h"
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

}  // namespace

// A started tree is not announced by a wakeup (the thread would pay a context switch per
// command for it): the thread adopts it at its next tick, and its caller finishes it (Step).
// The thread is woken only when it sleeps without a timeout, for a dropped tree, or for a tree
// handed back from its start (no pidfd: kernels before 5.3; its pipe's hangup is its end,
// watched from its adoption).
//
// Where the kernel keeps no exit status for a reaped pidfd (before Linux 6.15), the root's
// pidfd goes into the thread's epoll set even for a tree its caller steps: bmake reaps before
// it asks for the records, and only a look at the zombie before that reaping (the thread's,
// woken by the root's exit, racing bmake's waitpid) can say which signal killed it. Whichever
// of the thread and the caller sees the end first finishes the tree.
void SharedSupervisor::Impl::Submit(std::shared_ptr<TreeState> state) {
  TreeState* tree = state.get();
  const bool peek_zombie = !KernelKeepsReapedExit();
  bool dropped;  // set by the caller's thread, this one
  {
    absl::MutexLock lock(&tree->mu);
    dropped = tree->dropped;
  }
  bool wake;
  {
    absl::MutexLock lock(&mu_);
    if (tree->id == 0) tree->id = next_id_++;
    wake = asleep_ || dropped;
    submitted_.push_back(std::move(state));
    // After the push: the epoll's event finds the tree submitted. Not the thread's yet: the
    // caller sets `handed_back` before its first submission only.
    if (!dropped && tree->handed_back) {
      wake = !WatchRoot(tree) || wake;
    } else if (!dropped && peek_zombie) {
      WatchRoot(tree);  // the caller's step finishes the tree if this fails
    }
    if (wake) asleep_ = false;
  }
  if (wake) Wake();
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
  tree->finished = true;
  pump_.RemovePipe(tree->pipe_read.get());
  tree->pipe_read.reset();
  dispatcher_.RemoveSink(tree);
  pump_.RemoveTreeRoot(tree->root);
  Deactivate(tree);
}

void SharedSupervisor::Impl::Deactivate(TreeState* tree) {
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
  if (stepping_ != nullptr) return StepWait(fds);
  Adopt();
  const size_t own = fds->size();  // the control socket's entry among them is -1 (kShared)
  fds->push_back({roots_.get(), POLLIN, 0});
  // A tree handed back has its pipe watched for its hangup (no event bit: no wakeup per write)
  // once its root has exited, if the root has no pidfd, or if the set had no room for it. No caller
  // steps such a tree, but a caller's step may drop it (Adopt) while the thread sleeps unlocked:
  // held here till then.
  std::vector<std::shared_ptr<TreeState>> hangups;
  for (const std::shared_ptr<TreeState>& tree : active_) {
    if (!tree->handed_back || tree->pipe_gone || tree->root_to_watch()) continue;
    fds->push_back({tree->pipe_read.get(), 0, 0});
    hangups.push_back(tree);
  }
  const int sleep_ms = SleepMs();
  int n;
  work_.Unlock();  // callers step their trees meanwhile
  do {
    n = poll(fds->data(), fds->size(), sleep_ms);
  } while (n < 0 && errno == EINTR);
  const int poll_errno = errno;
  work_.Lock();
  if (n < 0) return absl::ErrnoToStatus(poll_errno, "preload supervisor: poll");
  if (n > 0) woken_.fetch_add(1, std::memory_order_relaxed);
  if (sleep_ms < 0) {
    absl::MutexLock lock(&mu_);
    asleep_ = false;
  }
  // Before Adopt, which may drop a tree once its caller gave it up (then this is moot).
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
    roots_seen_.fetch_add(1, std::memory_order_relaxed);
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
  // The root's status matters only if it wrote no X of its own (as a rule it did: no system
  // call for it then); the dispatcher forgets the root either way, status known or not.
  const bool wanted = dispatcher_.WantsRootExit(tree->root);
  if (wanted) tree->ReadRootExit();
  if (tree->root_exit.known) {
    dispatcher_.HandleRootExit(tree->root, tree->root_exit.code, tree->root_exit.signal);
  } else {
    dispatcher_.ForgetRoot(tree->root);
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
  tree->finished = true;
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
  work_.Lock();  // released only in Wait's poll (and the pause below)
  while (true) {
    const absl::Status run = pump_.Run(this, wake_.get());
    FinishEnded(run);
    if (!run.ok()) {  // not a busy loop if poll keeps failing
      work_.Unlock();
      usleep(10 * 1000);
      work_.Lock();
    }
  }
}

SharedSupervisor::SharedSupervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

int SharedSupervisor::child_socket() const { return impl_->channel().child_socket(); }
const std::string& SharedSupervisor::socket_name() const { return impl_->channel().socket_name(); }

void SharedSupervisor::Submit(std::shared_ptr<TreeState> state) { impl_->Submit(std::move(state)); }

uint64_t SharedSupervisor::thread_wakeups() const { return impl_->woken(); }
uint64_t SharedSupervisor::thread_root_exits() const { return impl_->roots_seen(); }

absl::StatusOr<SharedSupervisor*> SharedSupervisor::ForThisProcess() {
  static PerProcess<SharedSupervisor> supervisors;  // a forked child makes its own
  return supervisors.Get(&SharedSupervisor::Make);
}

absl::StatusOr<SharedSupervisor*> SharedSupervisor::Make() {
  absl::StatusOr<SupervisorChannel> channel = SupervisorChannel::Open(ChannelUse::kShared);
  if (!channel.ok()) return channel.status();
  OwnedFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return absl::ErrnoToStatus(errno, "eventfd(preload supervisor)");
  OwnedFd roots(epoll_create1(EPOLL_CLOEXEC));
  if (!roots.valid()) return absl::ErrnoToStatus(errno, "epoll_create1(preload supervisor)");
  std::string locale_shm_path;
  OwnedFd locale_shm = CreateLocaleShm(&locale_shm_path);
  KernelKeepsReapedExit();  // asked once per process, here rather than at a command's start
  auto impl = std::make_unique<Impl>(*std::move(channel), std::move(locale_shm), std::move(wake),
                                     std::move(roots));
  Impl* thread_impl = impl.get();
  auto* supervisor = new SharedSupervisor(std::move(impl));
  supervisor->locale_shm_path_ = std::move(locale_shm_path);
  // The place every tree's child puts its pipe at (NewTree): held by a copy of the socket,
  // close-on-exec, so that the number stays this process's. None (the table is full there):
  // each tree's pipe is moved to a free number beside the socket instead.
  supervisor->pipe_place_.reset(
      fcntl(supervisor->child_socket(), F_DUPFD_CLOEXEC, supervisor->child_socket() + 1));
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
  state->pipe_read = std::move(read_end);
  // Out of the way of the programs' low descriptors, beside the socket: the child moves it onto
  // the place kept for it (PlaceChildPipe); without one, it is moved there now.
  if (pipe_place_.valid()) {
    return std::unique_ptr<TracedTree>(
        new TracedTree(this, std::move(state), std::move(write_end), pipe_place_.get()));
  }
  OwnedFd child(fcntl(write_end.get(), F_DUPFD_CLOEXEC, child_socket() + 1));
  if (!child.valid()) return absl::ErrnoToStatus(errno, "fcntl(F_DUPFD_CLOEXEC, preload tree)");
  const int placed = child.get();
  return std::unique_ptr<TracedTree>(
      new TracedTree(this, std::move(state), std::move(child), placed));
}

}  // namespace preload_internal
}  // namespace filemon
