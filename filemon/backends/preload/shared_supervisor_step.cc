// The caller's side of the shared supervisor (shared_supervisor.h): a traced tree, and the
// step in which its caller finishes it, in the caller's own thread, under the thread's work lock.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "filemon/backends/preload/shared_supervisor.h"
#include "filemon/backends/preload/shared_supervisor_impl.h"

namespace filemon {
namespace preload_internal {

namespace {

absl::Status ForeignError() {
  return absl::FailedPreconditionError(
      "preload session: used in a forked child of the process that started it (the session is "
      "its parent's)");
}

}  // namespace

// Under `work_` (the caller's step): the thread watches the tree's end from now on. The root's
// exit wakes it through the epoll set; a root that exited already, or one without a pidfd,
// leaves the pipe's hangup to watch, which the thread's poll holds from its next round.
void SharedSupervisor::Impl::HandBack(TreeState* tree) {
  tree->handed_back = true;
  bool wake;
  {
    absl::MutexLock lock(&mu_);
    // The root's pidfd goes into the epoll set whatever else wakes the thread: a root that
    // still runs is watched there alone (the thread watches a pipe's hangup only once its root
    // has exited or has no pidfd), so without it nothing would end the tree. False (an exited
    // root, none, or no room in the set): the hangup is watched from the thread's next round.
    const bool watched = WatchRoot(tree);
    wake = asleep_ || !watched;
    asleep_ = asleep_ && !wake;
  }
  if (wake) Wake();
}

// Under `mu_`: the tree's root's pidfd into the thread's epoll set, once. False if the root
// has exited or has no pidfd, or the set has no room for it: then the end of a tree handed back
// is its pipe's hangup (root_unwatched; the pidfd stays open, as the caller's poll set may
// hold it or get it back at the end), and a tree its caller steps is the caller's alone.
bool SharedSupervisor::Impl::WatchRoot(TreeState* tree) {
  if (!tree->root_to_watch()) return false;
  if (tree->root_watched) return true;
  struct epoll_event event {};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = tree->id;
  tree->root_watched = epoll_ctl(roots_.get(), EPOLL_CTL_ADD, tree->root_pidfd.get(), &event) == 0;
  if (!tree->root_watched && tree->handed_back) tree->root_unwatched = true;
  return tree->root_watched;
}

void SharedSupervisor::Impl::Wake() {
  const uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof(one)) < 0) {
  }
}

// A caller's step (Step): a look at its tree's root and pipe, without waiting, as the thread's
// SeeEnds has it: the root first (it releases the pipe just before its exit is reported),
// then the pipe's hangup, then the sockets, readable once the tree's end is seen if its
// processes sent anything there (poll scans in order). One round: the pump returns after the
// drain asked for (the sockets, if the tree ended and they hold messages or a reconnection
// waits for its decision); its pipe is read to its end as the tree is finished.
absl::StatusOr<WaitStrategy::Wakeup> SharedSupervisor::Impl::StepWait(std::vector<pollfd>* fds) {
  Adopt();
  TreeState* tree = stepping_;
  std::vector<pollfd> ask;
  const bool ask_root = tree->root_to_watch();
  if (ask_root) ask.push_back({tree->root_pidfd.get(), POLLIN, 0});
  const size_t pipe = ask.size();
  ask.push_back({tree->pipe_gone ? -1 : tree->pipe_read.get(), 0, 0});
  for (size_t i = 1; i < fds->size(); ++i) {  // the sockets; the control socket is none (-1)
    if ((*fds)[i].fd >= 0) ask.push_back({(*fds)[i].fd, POLLIN, 0});
  }
  int n;
  do {
    n = poll(ask.data(), ask.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "preload session: poll");
  Wakeup wakeup;
  wakeup.watched_exited = true;  // one round
  if (ask_root && ask[0].revents != 0) tree->PeekRoot();
  if (ask[pipe].revents != 0) tree->pipe_gone = true;
  bool sockets = false;
  for (size_t i = pipe + 1; i < ask.size(); ++i) sockets = sockets || ask[i].revents != 0;
  if (tree->ended() && (sockets || channel_.has_waiting_peers())) wakeup.drain = Drain::kAll;
  return wakeup;
}

StepResult SharedSupervisor::Impl::Step(TreeState* tree, HandBackWhen hand_back) {
  absl::MutexLock lock(&work_);
  if (tree->finished) return StepResult::kFinished;
  if (tree->handed_back) return StepResult::kHandedBack;
  stepping_ = tree;
  const absl::Status run = pump_.Run(this, /*wake_fd=*/-1);
  stepping_ = nullptr;
  if (run.ok() && tree->ended()) {
    FinishTree(tree, pump_.status());
    Deactivate(tree);  // the root's pidfd is the caller's alone from here (TracedTree::Step)
    return StepResult::kFinished;
  }
  const bool root_gone = tree->root_exited || !tree->root_pidfd.valid();
  if (hand_back == HandBackWhen::kAlways || root_gone || !run.ok()) {
    HandBack(tree);
    return StepResult::kHandedBack;
  }
  return StepResult::kRunning;
}

bool TracedTree::Foreign() const { return ThisProcessId() != owner_; }

absl::Status TracedTree::CheckMaker() const {
  return Foreign() ? ForeignError() : absl::OkStatus();
}

TracedTree::~TracedTree() {
  if (!started_ || Foreign()) return;  // a forked child's copy: the tree is its parent's
  KeepPollSet();
  {
    absl::MutexLock lock(&state_->mu);
    state_->caller_poll_set = -1;  // closed with this object
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

// The caller's poll set goes back to the supervisor for the next tree's caller if it is empty
// again: it held only the root's pidfd (no eventfd swapped in: Step), which the caller's step
// took out when it finished the tree. Else it is closed.
void TracedTree::KeepPollSet() {
  if (!poll_set_.valid() || !poll_set_emptied_) return;
  supervisor_->impl_->KeepPollSet(poll_set_.release());
}

int SharedSupervisor::Impl::TakePollSet() {
  for (std::atomic<int>& spare : spare_poll_sets_) {
    const int set = spare.exchange(-1, std::memory_order_acquire);
    if (set >= 0) return set;
  }
  return epoll_create1(EPOLL_CLOEXEC);
}

void SharedSupervisor::Impl::KeepPollSet(int set) {
  for (std::atomic<int>& spare : spare_poll_sets_) {
    int none = -1;
    if (spare.compare_exchange_strong(none, set, std::memory_order_release)) return;
  }
  close(set);
}

int TracedTree::ready_fd() const {
  if (Foreign()) {  // the tree's lock may have been copied held
    errno = EPERM;
    return -1;
  }
  if (ready_fd_ >= 0) return ready_fd_;
  if (!caller_steps_) return ready_fd_ = ReadyEventfd();
  // The root's exit is the caller's event: Take finishes the tree then, or hands it back and
  // swaps in the eventfd (Step), so that the descriptor is not left readable meanwhile.
  poll_set_.reset(supervisor_->impl_->TakePollSet());
  if (!poll_set_.valid()) return -1;
  struct epoll_event event {};
  event.events = EPOLLIN;
  if (epoll_ctl(poll_set_.get(), EPOLL_CTL_ADD, state_->root_pidfd.get(), &event) != 0) {
    const int error = errno;
    poll_set_.reset();
    errno = error;
    return -1;
  }
  return ready_fd_ = poll_set_.get();
}

// The eventfd the tree's end writes; made at the first call.
int TracedTree::ReadyEventfd() const {
  absl::MutexLock lock(&state_->mu);
  if (!state_->ready.valid()) {
    state_->ready.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    // Done already: MarkDone found no descriptor to write.
    if (state_->ready.valid() && state_->done) TreeState::SignalReady(state_->ready.get());
  }
  return state_->ready.get();
}

int TracedTree::PlaceChildPipe() const {
  if (!child_pipe_.valid()) return 0;  // started: nothing to place (as SendPrepared)
  const int placed = child_pipe_.get() == child_pipe_at_
                         ? fcntl(child_pipe_at_, F_SETFD, 0)
                         : dup3(child_pipe_.get(), child_pipe_at_, 0);
  return placed < 0 ? errno : 0;
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
  // Not the caller's to finish without a pidfd (its end is then its pipe's hangup alone), nor
  // if it polls an eventfd asked for before the start, which only the tree's end writes.
  caller_steps_ = state_->root_pidfd.valid() && ready_fd_ < 0;
  state_->handed_back = !caller_steps_;  // before the thread knows the tree
  supervisor_->Submit(state_);
}

bool TracedTree::Step(bool always_hand_back) {
  const StepResult result = supervisor_->impl_->Step(
      state_.get(), always_hand_back ? HandBackWhen::kAlways : HandBackWhen::kIfRootExited);
  if (result == StepResult::kRunning) return true;
  caller_steps_ = false;
  if (result == StepResult::kFinished) {
    // The root's pidfd is needed no more: taken out of the caller's poll set, which is then
    // empty for the next tree (KeepPollSet), and closed now rather than with the tree. Closing
    // alone would not empty the set: epoll forgets a file only when its last copy closes, and
    // a child forked by another of the caller's threads may hold one until it execs.
    poll_set_emptied_ =
        poll_set_.valid() && !poll_set_swapped_ &&
        epoll_ctl(poll_set_.get(), EPOLL_CTL_DEL, state_->root_pidfd.get(), nullptr) == 0;
    state_->root_pidfd.reset();
  }
  if (result == StepResult::kHandedBack && poll_set_.valid()) {
    poll_set_swapped_ = true;
    // The root has exited (its pidfd stays readable): the thread's end of the tree wakes a
    // caller that polls, not the root's, which would leave the set readable while orphans run.
    epoll_ctl(poll_set_.get(), EPOLL_CTL_DEL, state_->root_pidfd.get(), nullptr);
    const int ready = ReadyEventfd();
    struct epoll_event event {};
    event.events = EPOLLIN;
    if (ready < 0 || epoll_ctl(poll_set_.get(), EPOLL_CTL_ADD, ready, &event) != 0) {
      state_->ReadyThroughPollSet(poll_set_.get());  // no eventfd (EMFILE)
    }
  }
  return false;
}

absl::StatusOr<bool> TracedTree::Take(RecordSink* sink) {
  if (Foreign()) return ForeignError();
  return TakeAsMaker(sink);
}

bool TracedTree::TakeAsMaker(RecordSink* sink) {
  if (caller_steps_) Step(/*always_hand_back=*/false);
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

absl::Status TracedTree::Finish(RecordSink* sink) {
  if (Foreign()) return ForeignError();
  while (caller_steps_ && Step(/*always_hand_back=*/false)) {
    // The root runs: wait for its exit in this thread, not the supervisor's.
    pollfd root{state_->root_pidfd.get(), POLLIN, 0};
    int n;
    do {
      n = poll(&root, 1, -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) Step(/*always_hand_back=*/true);
  }
  {
    absl::MutexLock lock(&state_->mu);
    state_->mu.Await(absl::Condition(&state_->done));
  }
  TakeAsMaker(sink);
  return absl::OkStatus();
}

}  // namespace preload_internal
}  // namespace filemon
