#include "filemon/core/tree_order.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace filemon {
namespace {

// Long paths are cut in messages: the pid and the letter identify the record.
constexpr size_t kMaxPathInMessage = 80;

void AppendPath(absl::string_view path, bool quoted, std::string* out) {
  const absl::string_view shown = path.substr(0, kMaxPathInMessage);
  absl::StrAppend(out, " ", quoted ? "'" : "", shown, shown.size() < path.size() ? "..." : "",
                  quoted ? "'" : "");
}

// The record as its log line would start, e.g. "F 12 13", "R 13 /x", "X 13 0 0".
std::string Describe(const Record& r) {
  std::string out = absl::StrCat(std::string(1, RecordLetter(r.kind)), " ", r.pid);
  if (r.kind == RecordKind::kFork) {
    absl::StrAppend(&out, " ", r.child_pid);
  } else if (r.kind == RecordKind::kExit) {
    absl::StrAppend(&out, " ", r.status);
    if (r.has_signal) absl::StrAppend(&out, " ", r.signal);
  } else if (HasTwoPaths(r.kind)) {
    AppendPath(r.path, /*quoted=*/true, &out);
    AppendPath(r.path2, /*quoted=*/true, &out);
  } else if (HasPath(r.kind)) {
    AppendPath(r.path, /*quoted=*/false, &out);
  }
  return out;
}

// Records that say nothing about the process tree: comment, header and footer lines, V, and
// the A clue of the R/W that follows it.
bool IsNeutral(RecordKind kind) {
  return kind == RecordKind::kAt || kind == RecordKind::kVersion || RecordLetter(kind) == '#';
}

}  // namespace

TreeOrderChecker::TreeOrderChecker(TreeOrderOptions options) : options_(options) {}

bool TreeOrderChecker::Fail(const Record& record, size_t line, absl::string_view problem) {
  std::string where =
      options_.filename.empty() ? absl::StrCat(line) : absl::StrCat(options_.filename, ":", line);
  status_ =
      absl::FailedPreconditionError(absl::StrCat(where, ": ", Describe(record), ": ", problem));
  return false;
}

bool TreeOrderChecker::AddRoot(const Record& record, int64_t pid, size_t line, Process* process) {
  if (!saw_root_) {
    saw_root_ = true;
    first_root_ = pid;
  } else if (options_.roots == TreeRoots::kFirstOnly && pid != first_root_) {
    processes_.erase(pid);
    return Fail(record, line,
                absl::StrCat(record.kind == RecordKind::kFork ? "parent " : "pid ", pid,
                             " was not created by an F of the traced tree (its root is pid ",
                             first_root_, ")"));
  }
  process->line = line;
  ++live_;
  return true;
}

bool TreeOrderChecker::Add(const Record& record, size_t line) {
  if (!ok()) return false;
  if (IsNeutral(record.kind)) return true;
  if (record.kind == RecordKind::kFork) return AddFork(record, line);
  auto [it, inserted] = processes_.try_emplace(record.pid);
  Process& p = it->second;
  if (inserted) {
    if (!AddRoot(record, record.pid, line, &p)) return false;
  } else if (p.exited) {
    return Fail(record, line, absl::StrCat("pid ", record.pid, " exited at line ", p.line));
  }
  if (record.kind == RecordKind::kExit) {
    p = Process{line, /*exited=*/true, /*forked=*/false};
    --live_;
  }
  return true;
}

bool TreeOrderChecker::AddFork(const Record& record, size_t line) {
  const int64_t parent = record.pid;
  const int64_t child = record.child_pid;
  if (parent == child) return Fail(record, line, "a process cannot create itself");
  {
    auto [it, inserted] = processes_.try_emplace(parent);
    const Process& p = it->second;
    if (inserted) {
      if (!AddRoot(record, parent, line, &it->second)) return false;
    } else if (p.exited) {
      return Fail(record, line, absl::StrCat("parent ", parent, " exited at line ", p.line));
    }
  }
  auto [it, inserted] = processes_.try_emplace(child);
  Process& c = it->second;
  if (!inserted && !c.exited) {
    if (c.forked) {
      return Fail(record, line,
                  absl::StrCat("pid ", child, " was already created by the F at line ", c.line));
    }
    return Fail(record, line,
                absl::StrCat("pid ", child, " already has records (line ", c.line,
                             "): its F must come first"));
  }
  // A new pid, or an exited one the kernel reused.
  c = Process{line, /*exited=*/false, /*forked=*/true};
  ++live_;
  return true;
}

}  // namespace filemon
