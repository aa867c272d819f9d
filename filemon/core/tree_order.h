// File: filemon/core/tree_order.h
//
// The order FreeBSD's filemon(4) gives its logs, checked one record at a time. The kernel
// writes `F parent child` inside the parent's fork and `X pid` inside the exit, so a log from
// it satisfies:
//   1. `F P C` comes before every record of C (bmake copies P's cwd to C at the F);
//   2. no record of a pid comes after that pid's `X` (bmake drops the pid's cwd there), until
//      a later `F Q C` reintroduces the reused pid;
//   3. `F P C` comes before `X P`, and P is a live process of the traced tree.
// (A process's own records are in the order of its calls; no log can show otherwise.)
// Every producer of this library guarantees the same order; log_format.md section 6 states it.
//
// The check is permissive where a log cannot tell: under `TreeRoots::kAny` a pid first seen
// without an F may be a root (a `.meta` may hold several commands), so a late `F P C` shows as
// a violation at that F, C being live already. Comment, header and footer lines, `V` and the
// `A` clue are neutral. Memory is one small entry per pid the log has named, whatever the
// number of records; an exited pid's entry is reused when an F reintroduces the pid.
//
// Example:
//   filemon::TreeOrderOptions options;
//   options.filename = "filemon.out";
//   filemon::TreeOrderChecker order(options);
//   while (parser.Next(&record)) {
//     if (!order.Add(record, parser.line())) break;
//   }
//   if (!order.ok()) ... order.status(): "filemon.out:41: F 12 13: parent 12 exited at line 40"

#ifndef FILEMON_CORE_TREE_ORDER_H_
#define FILEMON_CORE_TREE_ORDER_H_

#include <cstddef>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "filemon/core/record.h"

namespace filemon {

// Which pids may appear without an `F` introducing them.
enum class TreeRoots : uint8_t {
  // Any pid first seen without an F is one more root (a .meta, a log of unknown origin).
  kAny,
  // Only the pid of the first record is a root: the log of one traced command, as every
  // backend writes it. Any other pid must be introduced by an F of a live process.
  kFirstOnly,
};

struct TreeOrderOptions {
  TreeRoots roots = TreeRoots::kAny;
  // Prefixed to messages as "FILE:LINE: ..."; empty gives "LINE: ...".
  absl::string_view filename;
};

// Not thread-safe. Keeps no view of the records it is given.
class TreeOrderChecker {
 public:
  explicit TreeOrderChecker(TreeOrderOptions options = {});

  // Checks the next record of the log, found at 1-based `line`. Returns `ok()`: false once a
  // violation was found; later calls then change nothing and return false.
  bool Add(const Record& record, size_t line);

  bool ok() const { return status_.ok(); }
  // The first violation (kFailedPrecondition), e.g.
  //   "41: F 12 13: parent 12 exited at line 40"
  //   "53: R 13 /x: pid 13 exited at line 52"
  //   "8: F 12 13: pid 13 already has records (line 7) - its F must come first"
  const absl::Status& status() const { return status_; }

  // Pids with an entry: live ones and exited ones not yet reused (for tests of the memory).
  size_t tracked_pids() const { return processes_.size(); }
  // Pids introduced (by F or as a root) and not yet exited.
  size_t live_pids() const { return live_; }

 private:
  struct Process {
    size_t line = 0;  // live: the F that introduced it, or its first record; exited: its X
    bool exited = false;
    bool forked = false;  // live and introduced by an F (else a root)
  };
  bool AddFork(const Record& record, size_t line);
  // Makes `pid` live as a root at `line`; false (a violation) if the options forbid it.
  bool AddRoot(const Record& record, int64_t pid, size_t line, Process* process);
  bool Fail(const Record& record, size_t line, absl::string_view problem);

  TreeOrderOptions options_;
  absl::flat_hash_map<int64_t, Process> processes_;
  size_t live_ = 0;
  bool saw_root_ = false;
  int64_t first_root_ = 0;
  absl::Status status_;
};

}  // namespace filemon

#endif  // FILEMON_CORE_TREE_ORDER_H_
