// File: filemon/backends/kernel/kernel_log_follower.h
//
// Internal to the kernel backend (and bmake's filemon API on the device): follows a filemon(4)
// log while the kernel appends to it. Bytes are fed as they are read; every complete line is
// parsed (filemon/core/parser.h) and its record forwarded to a sink, except the header and
// footer lines (`#` comments and `V`), which the sink's owner writes itself. The follower
// also keeps the set of traced processes still alive (forked, no exit record yet), so that the
// caller knows when the whole traced tree is done, orphans included.
//
// A line the parser rejects (the kernel truncates a record longer than 2*MAXPATHLEN+100 bytes
// and writes it without its newline) is not dropped: it is forwarded as a comment record
// " filemon: malformed kernel record: <text>" and counted.
//
// Example:
//   KernelLogFollower follower(sink);
//   follower.AddLive(child);
//   while (...) follower.Feed(new_bytes);
//   follower.Finish();

#ifndef FILEMON_BACKENDS_KERNEL_KERNEL_LOG_FOLLOWER_H_
#define FILEMON_BACKENDS_KERNEL_KERNEL_LOG_FOLLOWER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "filemon/core/record_sink.h"

namespace filemon {

// Not thread-safe.
class KernelLogFollower {
 public:
  // `sink` must outlive the follower.
  explicit KernelLogFollower(RecordSink* sink) : sink_(sink) {}
  KernelLogFollower(const KernelLogFollower&) = delete;
  KernelLogFollower& operator=(const KernelLogFollower&) = delete;

  // Appends `bytes` (any split, even mid-line) and forwards every line now complete.
  void Feed(absl::string_view bytes);
  // Forwards a last line that has no newline. Call once, after the last `Feed`.
  void Finish();

  // Marks `pid` as traced and alive (the process named with FILEMON_SET_PID). `F` records add
  // their child, `X` records remove their process.
  void AddLive(int64_t pid) { live_.insert(pid); }
  // Forgets `pid` (it no longer exists, yet the log has no exit record for it: e.g. FreeBSD
  // stops tracing a process that execs a set-id image).
  void ForgetLive(int64_t pid) { live_.erase(pid); }
  const absl::flat_hash_set<int64_t>& live() const { return live_; }

  // Records forwarded, and lines forwarded as "malformed" comments.
  size_t records() const { return records_; }
  size_t malformed_lines() const { return malformed_; }

 private:
  void Line(absl::string_view line);

  RecordSink* sink_;
  std::string pending_;  // bytes after the last newline seen
  std::string scratch_;  // the text of a malformed-line comment
  absl::flat_hash_set<int64_t> live_;
  size_t records_ = 0;
  size_t malformed_ = 0;
};

}  // namespace filemon

#endif  // FILEMON_BACKENDS_KERNEL_KERNEL_LOG_FOLLOWER_H_
