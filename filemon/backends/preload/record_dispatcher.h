// File: filemon/backends/preload/record_dispatcher.h
//
// `RecordDispatcher`: turns the interposer's wire records (wire_format.h) into `Record`s and
// hands each to the sink of the traced tree its process belongs to.
//
// - F from both sides: a creation's two F records (same parent, child and token) give one F,
//   the first to arrive; token 0 marks an F that has no twin.
// - One X per process: the X the process wrote itself, or else the one its reaping gives
//   (`HandleExit`), whichever comes first; a later F naming the pid (pid reuse) starts over.
// - Programs the interposer cannot enter (WireKind::kUnenterable): their own forks are
//   invisible, so a descendant shows itself only when it starts a program the interposer
//   enters, maybe after the program's exit. Such a process's X is held until
//   `FlushHeldExits()` (the end of the run; or an F that reuses its pid), and a descendant's
//   F whose kernel parent is no process of the log (one of the program's forks, or the
//   reaper) names the program's process instead (WireRecord::signal): the kernel's order,
//   with the program standing for its invisible forks.
// - A process handed over to a nested trace (WireKind::kHandedOver, FreeBSD's rule): its
//   reaping writes no X here, as for `Disown`.
// - Routing: `AddRoot(pid, sink)` makes `pid` a root; every process it creates (an F naming it
//   or one of its descendants as parent) goes to the same sink, so that the records of several
//   trees traced at once (one per bmake job) never mix. A pid of no root goes to the fallback
//   sink given at construction; with none, its records are dropped and counted (`unrouted()`).
//   A single-tree run passes its sink as the fallback and needs no root.
// - Senders (several trees, issue 18 for sessions): a message whose sender's tree the channel
//   proves (the tree's own pipe; the kernel's pid of a socket's sender) is checked
//   (`HandleRecords` with a `Sender`): a record of a process routed to another tree, or of an
//   F naming another tree's process as parent, is refused and counted for the sending tree
//   (`TakeRefused`), never written; a sender of no tree has every record refused.
//
// Not thread-safe: one pump calls it. Sinks must outlive the dispatcher or their removal.
//
// Example:
//   RecordDispatcher dispatcher(/*fallback=*/nullptr);
//   dispatcher.AddRoot(job_pid, &job_sink);
//   dispatcher.HandleRecords(body, body_size);   // from the pump, per kRecords message
//   dispatcher.RemoveSink(&job_sink);            // the job ended

#ifndef FILEMON_BACKENDS_PRELOAD_RECORD_DISPATCHER_H_
#define FILEMON_BACKENDS_PRELOAD_RECORD_DISPATCHER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/path_rules.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace preload_internal {

// Who sent a message to a `RecordDispatcher`, as far as the channel proves it.
struct MessageSender {
  bool checked = false;        // false: trusted as routed (a single-tree run)
  RecordSink* tree = nullptr;  // checked: the sender's tree; nullptr: none (all refused)
  int32_t pid = 0;             // the sending process, for the log
};

// Records refused from one sending tree (or from senders of none), for its log.
struct RefusedRecords {
  size_t count = 0;
  int32_t first_claimed = 0;  // the pid the first refused record named
  int32_t first_sender = 0;   // the process that sent it
};

class RecordDispatcher {
 public:
  explicit RecordDispatcher(RecordSink* fallback) : fallback_(fallback) {}
  RecordDispatcher(const RecordDispatcher&) = delete;
  RecordDispatcher& operator=(const RecordDispatcher&) = delete;

  // Routes `root`'s records, and those of every process it creates from now on, to `sink`.
  // `root` is a new process: what the dispatcher kept of an earlier process of that pid is
  // forgotten (a dispatcher serving many trees in turn sees pids reused).
  void AddRoot(int32_t root, RecordSink* sink);
  // Forgets every process routed to `sink` (its tree is done), after writing the X held for
  // them; their later records go to the fallback sink.
  void RemoveSink(RecordSink* sink);

  using Sender = MessageSender;
  using Refused = RefusedRecords;

  // Turns the records of one kRecords message body into sink records. A malformed body gives
  // a comment after its well-formed records.
  void HandleRecords(const char* data, size_t size, const Sender& sender = Sender());
  // A process was reaped (kReaped, kind kExit); writes its X unless the process wrote its own.
  void HandleExit(const WireRecord& record, const Sender& sender = Sender());
  // The X of the root `pid`, from the supervisor's own look at its end (the caller reaps it):
  // written if the root prepared itself (WireKind::kPrepared) and wrote no X of its own (nor
  // was handed over to a nested trace), without HandleExit's comment (a root that sent
  // nothing is the supervisor's to say).
  void HandleRootExit(int32_t pid, int32_t code, int32_t signal);
  // The root `pid` whose end the supervisor could not learn (reaped where the kernel kept no
  // status): forgotten as by HandleRootExit, with no X. Returns `WantsRootExit(pid)` as it was.
  bool ForgetRoot(int32_t pid);
  // True if `HandleRootExit(pid, ...)` would write an X: the root prepared itself and wrote
  // none of its own. Else it only forgets the root, whatever the status.
  bool WantsRootExit(int32_t pid) const {
    return prepared_.contains(pid) && !exit_written_.contains(pid);
  }
  // The tree `pid` is routed to; nullptr: none.
  RecordSink* TreeOf(int32_t pid) const {
    auto it = routes_.find(pid);
    return it != routes_.end() ? it->second : nullptr;
  }
  // The refusals counted for senders of `tree` (nullptr: of no tree) since the last call.
  Refused TakeRefused(RecordSink* tree);
  // `pid` is no process of the log (the command's process, whose exec failed before the run
  // was handed to another backend): its reaping writes no X.
  void Disown(int32_t pid) { exit_written_.insert(pid); }
  // Writes a `#` comment (text after '#') into the log of `pid`'s tree.
  void AddComment(int32_t pid, absl::string_view text);
  // `pid`, a process of the log, runs a program the interposer cannot enter (as a
  // kUnenterable record: for the command itself, whose E the supervisor writes).
  void MarkUnenterable(int32_t pid);
  // Writes the X records held for such processes, in the order they came.
  void FlushHeldExits();

  // True if `pid` was named by a record (as its writer or as a created child) and routed to a
  // sink: a member of a traced tree, alive or not. Records come only through channels the
  // traced trees hold, so a pid named here is one of theirs.
  bool InTree(int32_t pid) const { return routes_.contains(pid); }
  // Records dropped because their pid belonged to no tree and there is no fallback.
  size_t unrouted() const { return unrouted_; }

 private:
  // The sink of `pid` (remembered from now on); nullptr: none.
  RecordSink* Route(int32_t pid);
  // False for the second F of a creation (the first was written).
  bool FirstFork(const WireRecord& w);
  // False for a probe (N) this pid already has in the log.
  bool FirstProbe(int32_t pid, absl::string_view path);
  // Writes one decoded wire record; returns its sink (nullptr: dropped).
  RecordSink* Dispatch(const WireRecord& w, const char* path1, const char* path2);
  // False (and counted) if `sender` is checked and `pid`'s tree is not the sender's.
  bool Allowed(const Sender& sender, int32_t pid);
  // The parent an F names: the kernel's, or its alternate when only that one is in the log.
  int32_t ForkParent(const WireRecord& w) const;
  // Writes `pid`'s X, or holds it if `pid` is unenterable.
  void WriteExit(RecordSink* sink, int32_t pid, int32_t code, int32_t signal);
  // Writes the held X of `pid`, if any (its pid is about to be reused).
  void FlushHeldExit(int32_t pid);

  RecordSink* const fallback_;
  absl::flat_hash_map<int32_t, RecordSink*> routes_;  // see InTree
  int32_t last_pid_ = 0;                              // a cache of routes_ for the hot path
  RecordSink* last_sink_ = nullptr;
  absl::flat_hash_set<int64_t> exit_written_;  // pids whose X is in the log (until reaped)
  // Creations (parent, child, token) of which one F was written and the other is awaited. An
  // entry ends when the second arrives; a side killed before its F leaves one.
  absl::flat_hash_set<std::tuple<int32_t, int32_t, uint32_t>> half_seen_;
  // The probes in the log of each pid, until its X: one N per pid and path (TraceOptions::
  // probes), across the process's execs and threads. The interposer drops most repeats
  // before they are sent (probe_set.h); this is the rule's exact form, shared with the
  // ptrace and ebpf backends.
  path_rules::ProbeMemory probes_;
  size_t unrouted_ = 0;
  const Sender* sender_ = nullptr;  // of the message being handled
  absl::flat_hash_map<RecordSink*, Refused> refused_;
  absl::flat_hash_set<int32_t> unenterable_;  // processes running such a program
  // Roots that sent WireKind::kPrepared, until their X or the end of their tree.
  absl::flat_hash_set<int32_t> prepared_;
  struct HeldExit {
    RecordSink* sink;
    int32_t pid, code, signal;
  };
  std::vector<HeldExit> held_exits_;  // in the order they came
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_RECORD_DISPATCHER_H_
