#include "filemon/core/record.h"

namespace filemon {

char RecordLetter(RecordKind kind) {
  switch (kind) {
    case RecordKind::kAt:
      return 'A';
    case RecordKind::kChdir:
      return 'C';
    case RecordKind::kDelete:
      return 'D';
    case RecordKind::kExec:
      return 'E';
    case RecordKind::kFork:
      return 'F';
    case RecordKind::kLink:
      return 'L';
    case RecordKind::kMove:
      return 'M';
    case RecordKind::kNotFound:
      return 'N';
    case RecordKind::kRead:
      return 'R';
    case RecordKind::kStat:
      return 'S';
    case RecordKind::kWrite:
      return 'W';
    case RecordKind::kExit:
      return 'X';
    case RecordKind::kVersion:
      return 'V';
    case RecordKind::kHeaderVersion:
    case RecordKind::kTargetPid:
    case RecordKind::kStart:
    case RecordKind::kStop:
    case RecordKind::kByeBye:
    case RecordKind::kComment:
      return '#';
  }
  return '#';
}

bool RecordKindFromLetter(char letter, RecordKind* kind) {
  switch (letter) {
    case 'A':
      *kind = RecordKind::kAt;
      return true;
    case 'C':
      *kind = RecordKind::kChdir;
      return true;
    case 'D':
      *kind = RecordKind::kDelete;
      return true;
    case 'E':
      *kind = RecordKind::kExec;
      return true;
    case 'F':
      *kind = RecordKind::kFork;
      return true;
    case 'L':
      *kind = RecordKind::kLink;
      return true;
    case 'M':
      *kind = RecordKind::kMove;
      return true;
    case 'N':
      *kind = RecordKind::kNotFound;
      return true;
    case 'R':
      *kind = RecordKind::kRead;
      return true;
    case 'S':
      *kind = RecordKind::kStat;
      return true;
    case 'W':
      *kind = RecordKind::kWrite;
      return true;
    case 'X':
      *kind = RecordKind::kExit;
      return true;
    case 'V':
      *kind = RecordKind::kVersion;
      return true;
    default:
      return false;
  }
}

bool HasTwoPaths(RecordKind kind) { return kind == RecordKind::kLink || kind == RecordKind::kMove; }

bool HasPath(RecordKind kind) {
  switch (kind) {
    case RecordKind::kAt:
    case RecordKind::kChdir:
    case RecordKind::kDelete:
    case RecordKind::kExec:
    case RecordKind::kNotFound:
    case RecordKind::kRead:
    case RecordKind::kStat:
    case RecordKind::kWrite:
    case RecordKind::kLink:
    case RecordKind::kMove:
      return true;
    default:
      return false;
  }
}

bool operator==(const Record& a, const Record& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case RecordKind::kFork:
      return a.pid == b.pid && a.child_pid == b.child_pid;
    case RecordKind::kExit:
      return a.pid == b.pid && a.status == b.status && a.has_signal == b.has_signal &&
             (!a.has_signal || a.signal == b.signal);
    case RecordKind::kVersion:
      return a.version == b.version;
    case RecordKind::kHeaderVersion:
      return a.version == b.version && a.path == b.path;
    case RecordKind::kTargetPid:
      return a.pid == b.pid;
    case RecordKind::kStart:
    case RecordKind::kStop:
      return a.seconds == b.seconds && a.microseconds == b.microseconds;
    case RecordKind::kByeBye:
      return true;
    case RecordKind::kComment:
      return a.path == b.path;
    default:
      return a.pid == b.pid && a.path == b.path && (!HasTwoPaths(a.kind) || a.path2 == b.path2);
  }
}

}  // namespace filemon
