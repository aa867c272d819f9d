// File: filemon/backends/preload/shared_supervisor.h
//
// `SharedSupervisor`: one preload supervisor per process, serving every traced tree of the
// preload and auto `TraceSession`s (preload_session.h). bmake opens a filemon handle per job
// and starts one session per command: what does not depend on the command (a thread, the
// socket, the reconnection listener, the setlocale cache, the pump and the record dispatcher)
// is made once, and a tree costs a pipe and a pidfd (and, for a caller that polls, an epoll
// set), and no wakeup of the thread: the caller finishes its own tree in its own thread when it
// asks for the records once the root has exited, as bmake does after reaping it. The thread
// reads long commands' pipes on its tick, and watches the end of a tree that outlives its root
// (orphans, daemons), which the caller then waits for.
//
// What keeps the trees apart:
//   - Each tree has a pipe of its own. Every process of the tree holds its write end until it
//     exits (the interposer keeps it out of the program's way), so its hangup says that the
//     tree, orphans included, is done; nothing else of a tree is needed to see its end.
//   - Records go to the tree whose root their process descends from (RecordDispatcher::AddRoot:
//     an F names the parent, which is routed already), so the records of concurrent jobs never
//     mix between logs.
//   - The socket, the listener and the setlocale cache are shared: messages too large for a
//     pipe, and reconnections, carry their sender's pid and are routed the same way; a
//     reconnecting peer is admitted only if it descends from a live tree's root (or records
//     named it), as in a run.
//   - A tree writes only its own log (issue 18's "only the traced tree writes", per tree): a
//     record is written only if its process belongs to the tree that sent it, known from the
//     pipe it came through or, on a socket, from the sender's pid as the kernel gives it
//     (SCM_CREDENTIALS), never from the pid the message claims (pump.h, CheckSenders). A
//     process of one job that writes records of another job's processes, or an F making
//     itself their child, is refused; the sending tree's log says how many, with the first
//     sender and the pid it claimed (`# preload: refused N records that ...`). What this
//     cannot stop: a process allowed to ptrace another tree's processes (the same user, where
//     the kernel's ptrace scope permits) can also open their pipe through /proc and write as
//     them, as it could make them write anything.
//
// Lifetime (a pattern for any per-process tracing state, e.g. a loaded BPF program):
//   - Held by a `PerProcess` (filemon/backends/per_process.h), which states the rules below for
//     any such state. Made by the first `ForThisProcess()` of a process; never destroyed (like the
//     backend object of bmake's API): once no tree has been traced for a second, its thread
//     sleeps in poll with no timeout (before that it ticks, so that the next command needs no
//     wakeup), and exit() ends it. It creates no process, blocks every signal, and never waits
//     for a child (the caller keeps reaping its own with waitpid(-1)).
//   - Fork: the supervisor belongs to the process that made it (it remembers its pid). A forked
//     child of that process has no supervisor thread (fork copies only the calling thread), so
//     its first `ForThisProcess()` makes a new supervisor for the child and leaves the parent's
//     object untouched (its descriptors are close-on-exec; the child never reads them, and its
//     locks may have been held at the fork). A tree belongs to the process that made it: a child
//     must not finish a tree of its parent's. The vforked child between fork and exec never
//     calls this (`TraceSession::PrepareChild` reads only the tree's own fields).
//   - Thread-safe: any thread may make, start, read and drop trees.

#ifndef FILEMON_BACKENDS_PRELOAD_SHARED_SUPERVISOR_H_
#define FILEMON_BACKENDS_PRELOAD_SHARED_SUPERVISOR_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "filemon/backends/per_process.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace preload_internal {

class SharedSupervisor;
struct TreeState;  // shared_supervisor.cc: what the supervisor thread and the tree share

// One traced tree. Made before the fork (`SharedSupervisor::NewTree`), started after it.
// Destroying it once started but before it is done kills its root (through the root's pidfd)
// and stops reading its pipe: the rest of the tree ends at its next record (SIGPIPE).
// Not thread-safe: one caller thread uses a tree.
class TracedTree {
 public:
  ~TracedTree();
  TracedTree(const TracedTree&) = delete;
  TracedTree& operator=(const TracedTree&) = delete;

  // The descriptor the child holds the write end of the tree's pipe at, as its environment
  // names it (the same for every tree of a process, as a rule); -1 once `Start` closed the
  // parent's copy.
  int child_pipe() const { return child_pipe_.valid() ? child_pipe_at_ : -1; }
  // In the child after fork or vfork: puts the write end at `child_pipe()`, open across the
  // exec (dup3 onto the place the supervisor keeps for it in this process, replacing that
  // place in the child's table only; or, where there is none, clears close-on-exec where the
  // parent put it). Returns 0 or an errno value. Async-signal-safe.
  int PlaceChildPipe() const;
  // Polls readable at the latest once the tree is done and its last records are ready: from
  // the start, once its root has exited (an epoll set holding the root's pidfd; `Take` then
  // finishes the tree, or, if orphans hold it, hands it to the thread and the descriptor turns
  // readable only once the thread has finished it). Made at the first call. -1 (errno set) if
  // it cannot be made, or (EPERM) in a process that did not make the tree.
  int ready_fd() const;

  // After the fork: the supervisor reads the tree, whose root is `root` (-1: no child; the
  // tree is done at once). Closes the parent's copy of the pipe's write end. Call once.
  void Start(pid_t root);
  // Moves the records ready now into `sink`; true once the tree is done and all are moved. If
  // the tree has ended, finishes it first, in this thread.
  absl::StatusOr<bool> Take(RecordSink* sink);
  // Blocks until the tree is done, then moves the rest into `sink`. While the root runs, this
  // thread waits for it and finishes the tree; the thread finishes a tree its root left to
  // orphans.
  absl::Status Finish(RecordSink* sink);
  // `Take` and `Finish` fail (FailedPrecondition) in any process but the one that made the tree
  // (a forked child of the caller that did not exec): the supervisor's thread is not there, and
  // its locks may have been held at the fork, so the tree is neither read nor finished nor,
  // when the child drops it, killed from there. The tree stays its maker's.

  // OK in the process that made the tree; FailedPrecondition elsewhere, where neither the above
  // nor `Start` may run (their locks may have been copied held).
  absl::Status CheckMaker() const;

 private:
  friend class SharedSupervisor;
  TracedTree(SharedSupervisor* supervisor, std::shared_ptr<TreeState> state, OwnedFd child_pipe,
             int child_pipe_at)
      : supervisor_(supervisor),
        state_(std::move(state)),
        owner_(ThisProcessId()),
        child_pipe_(std::move(child_pipe)),
        child_pipe_at_(child_pipe_at) {}
  // One look at the tree's end, finishing it if it ended (`always_hand_back`: else hands it to
  // the thread). True while it runs, still this caller's to look at.
  bool Step(bool always_hand_back);
  int ReadyEventfd() const;
  // `Take` once `Foreign()` has been asked (a system call): true once the tree is done.
  bool TakeAsMaker(RecordSink* sink);

  bool Foreign() const;  // this process did not make the tree
  void KeepPollSet();

  SharedSupervisor* const supervisor_;
  const std::shared_ptr<TreeState> state_;
  const pid_t owner_;        // the process that made the tree
  OwnedFd child_pipe_;       // the write end, close-on-exec, where it was made
  const int child_pipe_at_;  // where the child holds it (child_pipe())
  bool started_ = false;
  // Started with a root's pidfd, neither finished nor handed to the thread: the caller looks
  // for the tree's end (Step).
  bool caller_steps_ = false;
  mutable OwnedFd poll_set_;       // ready_fd() while the caller steps: the root's pidfd, epoll
  bool poll_set_swapped_ = false;  // Step put the thread's end of the tree into it
  bool poll_set_emptied_ = false;  // Step took the finished root's pidfd out of it
  mutable int ready_fd_ = -1;
};

class SharedSupervisor {
 public:
  // The supervisor of the calling process, made (channel, setlocale cache, thread) at the
  // process's first call. Errors: the socketpair or the thread could not be made.
  static absl::StatusOr<SharedSupervisor*> ForThisProcess();

  // The launch protocol's shared values (launch_environment.h): the socket the trees inherit
  // (close-on-exec in this process), the listener's name, the setlocale cache's path.
  int child_socket() const;
  const std::string& socket_name() const;
  const std::string& locale_shm_path() const { return locale_shm_path_; }

  // A new tree and its pipe. Errors: pipe2, fcntl.
  absl::StatusOr<std::unique_ptr<TracedTree>> NewTree();

  // For tests: how often the thread's sleep ended on an event (not its tick's timeout).
  uint64_t thread_wakeups() const;
  // For tests: how many trees' root exits the thread saw before their callers did, and read
  // their status from the zombie.
  uint64_t thread_root_exits() const;

 private:
  friend class TracedTree;
  class Impl;
  explicit SharedSupervisor(std::unique_ptr<Impl> impl);
  // The channel, the setlocale cache and the thread (ForThisProcess, once per process).
  static absl::StatusOr<SharedSupervisor*> Make();

  // From TracedTree: hands a started tree, or one dropped early, to the thread.
  void Submit(std::shared_ptr<TreeState> state);

  std::unique_ptr<Impl> impl_;
  std::string locale_shm_path_;
  OwnedFd pipe_place_;  // where each tree's child puts its pipe (NewTree); may be none
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SHARED_SUPERVISOR_H_
