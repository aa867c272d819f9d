// File: filemon/backends/path_rules.h
//
// The path rules every backend that sees raw system calls applies (ptrace's decoder, ebpf's
// event reader), written once: how a relative path is joined under the directory it was
// resolved against, which records a successful open gives (FreeBSD's rule, with the `A`
// clue of the *at calls), and the rule of one `N` per process and path (`ProbeMemory`).
// Allocation-free but for `ProbeMemory`: output goes to a fixed-capacity `Text`.
//
// Example:
//   char buffer[2 * PATH_MAX + 2];
//   Text out(buffer, sizeof(buffer));
//   AppendJoined("/src", "./a.c", &out);                   // "/src/a.c"
//   AddOpenRecords(sink, pid, O_RDWR, "a.c", out.view(), OpenClue::kAt);  // A, R, W

#ifndef FILEMON_BACKENDS_PATH_RULES_H_
#define FILEMON_BACKENDS_PATH_RULES_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace path_rules {

// A fixed-capacity text buffer; appends past the capacity are dropped and remembered.
class Text {
 public:
  Text(char* data, size_t capacity) : data_(data), capacity_(capacity) {}
  Text& Append(absl::string_view s);
  Text& AppendInt(int64_t value);
  void Clear() {
    size_ = 0;
    overflow_ = false;
  }
  void Resize(size_t size) { size_ = size < capacity_ ? size : capacity_; }
  absl::string_view view() const { return absl::string_view(data_, size_); }
  // NUL-terminated (the last byte is sacrificed on overflow).
  const char* c_str();
  bool overflow() const { return overflow_; }

 private:
  char* data_;
  size_t capacity_;
  size_t size_ = 0;
  bool overflow_ = false;
};

inline bool IsAbsolute(absl::string_view path) { return !path.empty() && path[0] == '/'; }

// Appends `path` as named under the directory `dir` (an absolute path): leading "./" are
// dropped, "." is `dir` itself, and no second '/' follows a `dir` of "/".
void AppendJoined(absl::string_view dir, absl::string_view path, Text* out);

// Whether an open's records start with the `A pid path` clue (the path as passed): for
// openat/openat2 whose relative path got a dirfd's directory as prefix, unless every path is
// absolute anyway.
enum class OpenClue { kNone, kAt };

// The records of a successful open with `flags` (O_*): `A` (per `clue`), then FreeBSD's R/W
// records (filemon/core/open_rule.h), with `resolved` as the path.
void AddOpenRecords(RecordSink* sink, pid_t pid, uint64_t flags, absl::string_view as_passed,
                    absl::string_view resolved, OpenClue clue);

// The probes (`N`, TraceOptions::probes) each process of a log has had so far: one `N` per
// process and path, across the process's threads and execs, until its `X` (its pid may then
// be reused by a process whose probes are its own).
class ProbeMemory {
 public:
  // True the first time `pid` probes `path` (the path as the record gives it).
  bool First(int64_t pid, absl::string_view path) {
    return probed_[pid].insert(std::string(path)).second;
  }
  // Whether `pid` has probed `path` already (First() would be false).
  bool Seen(int64_t pid, absl::string_view path) const {
    auto it = probed_.find(pid);
    return it != probed_.end() && it->second.contains(path);
  }
  // `pid` has exited.
  void Forget(int64_t pid) { probed_.erase(pid); }

 private:
  absl::flat_hash_map<int64_t, absl::flat_hash_set<std::string>> probed_;
};

}  // namespace path_rules
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PATH_RULES_H_
