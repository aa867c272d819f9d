// File: filemon/core/record.h
//
// The record model: one value type for every line of a filemon(4) log, from the syscall that
// produced it to the decision that consumes it. A `Record` holds views, never copies: who
// produces it states how long the views live (see `Parser::Next` and `RecordSink::Add`).
//
// The log grammar, with the FreeBSD/NetBSD format strings, is in filemon/core/log_format.md.
//
// Example:
//   filemon::Record r = filemon::Record::Path(filemon::RecordKind::kRead, 42, "/etc/motd");
//   writer.Add(r);  // "R 42 /etc/motd\n"

#ifndef FILEMON_CORE_RECORD_H_
#define FILEMON_CORE_RECORD_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace filemon {

// What a log line says. The first group are the lettered records of filemon(4); the second
// group are the `#` lines of the header and footer, which the parser recognises so that a log
// can be reproduced byte for byte and its variant detected.
enum class RecordKind : uint8_t {
  kAt,       // 'A' pid path: relative openat path with a real dirfd (the next R/W lacks it)
  kChdir,    // 'C' pid path
  kDelete,   // 'D' pid path: unlink, unlinkat, rmdir
  kExec,     // 'E' pid path: a successful exec of `path`
  kFork,     // 'F' pid child_pid: `pid` created process `child_pid`
  kLink,     // 'L' pid 'path' 'path2': link/symlink; for symlink `path` is the link contents
  kMove,     // 'M' pid 'path' 'path2': rename from `path` to `path2`
  kRead,     // 'R' pid path: opened for reading (O_RDWR gives R then W)
  kStat,     // 'S' pid path: stat(2), FreeBSD 9.x (v4) logs only
  kWrite,    // 'W' pid path: opened for writing
  kExit,     // 'X' pid status [signal]
  kVersion,  // 'V' version
  // Comment lines.
  kHeaderVersion,  // "# filemon version N" (or "# buildmon version N": `path` = "buildmon")
  kTargetPid,      // "# Target pid N"
  kStart,          // "# Start S.UUUUUU"
  kStop,           // "# Stop S.UUUUUU"
  kByeBye,         // "# Bye bye"
  kComment,        // any other line starting with '#'; `path` is the text after the '#'
  // Our extension, last so that the proto numbers of the kinds above stay what they were.
  kNotFound,  // 'N' pid path: a lookup of `path` failed because it does not exist (a probe)
};

// The letter of a lettered record, or '#' for the comment kinds.
char RecordLetter(RecordKind kind);

// The kind for a record letter (one of "ACDEFLMNRSWXV"); false for any other byte.
[[nodiscard]] bool RecordKindFromLetter(char letter, RecordKind* kind);

// True for the kinds that carry one path (A C D E N R S W) or two (L M).
bool HasPath(RecordKind kind);
bool HasTwoPaths(RecordKind kind);

// A log line as a value. Which fields are meaningful depends on `kind`; the others are zero or
// empty. The views are not owned: their lifetime is the producer's contract.
struct Record {
  RecordKind kind = RecordKind::kComment;

  // The process: A C D E F(parent) L M R S W X; the pid of "# Target pid".
  int64_t pid = 0;

  // F: the child's pid.
  int64_t child_pid = 0;

  // X: the exit status as the log states it. In FreeBSD v5 logs this is `p_xexit` (the exit
  // code) and `signal` is `p_xsig`; in v4/NetBSD/ktrace logs it is the raw exit() argument; in
  // FreeBSD 10.x logs it is a wait(2)-encoded status. `has_signal` says whether the line had
  // the third field (v5 style).
  int64_t status = 0;
  int64_t signal = 0;
  bool has_signal = false;

  // V and kHeaderVersion: the version number.
  int64_t version = 0;

  // kStart/kStop: the time, as seconds and microseconds (printed "%ju.%06ju").
  int64_t seconds = 0;
  int64_t microseconds = 0;

  // A C D E N R S W: the path. L M: the first path (without quotes). kComment: the text after
  // '#' (including any leading blank). kHeaderVersion: "filemon" or "buildmon".
  absl::string_view path;
  // L M: the second path (without quotes).
  absl::string_view path2;

  // Factories for the common shapes.
  static Record Path(RecordKind kind, int64_t pid, absl::string_view path) {
    Record r;
    r.kind = kind;
    r.pid = pid;
    r.path = path;
    return r;
  }
  static Record TwoPaths(RecordKind kind, int64_t pid, absl::string_view from,
                         absl::string_view to) {
    Record r = Path(kind, pid, from);
    r.path2 = to;
    return r;
  }
  static Record Fork(int64_t parent, int64_t child) {
    Record r;
    r.kind = RecordKind::kFork;
    r.pid = parent;
    r.child_pid = child;
    return r;
  }
  // FreeBSD v5 exit: "X pid status signal".
  static Record Exit(int64_t pid, int64_t status, int64_t signal) {
    Record r;
    r.kind = RecordKind::kExit;
    r.pid = pid;
    r.status = status;
    r.signal = signal;
    r.has_signal = true;
    return r;
  }
  static Record Comment(absl::string_view text) {
    Record r;
    r.kind = RecordKind::kComment;
    r.path = text;
    return r;
  }
};

// Field-by-field equality of the meaningful fields (views compared by content).
bool operator==(const Record& a, const Record& b);
inline bool operator!=(const Record& a, const Record& b) { return !(a == b); }

}  // namespace filemon

#endif  // FILEMON_CORE_RECORD_H_
