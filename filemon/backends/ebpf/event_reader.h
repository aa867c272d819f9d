// File: filemon/backends/ebpf/event_reader.h
//
// The user-space half of the contract in event.h: which system calls the BPF program captures
// and where their paths are (`PlanFor`, from the ptrace backend's table of operations), and the
// records an event gives (`EventReader`), with the path rules of path_rules.h, the same as
// ptrace's: paths as passed, a dirfd's directory as prefix of a relative path (after an `A`
// clue for openat/openat2), fchdir as its directory, `E` with the absolute program path,
// `--absolute` through the working directory the kernel named at the call; with
// `TraceOptions::probes`, `N` for a lookup that failed because its path was absent.
//
// Example:
//   EventReader reader(options, &sink);
//   ring_buffer__new(fd, [](void* r, void* data, size_t size) {
//     static_cast<EventReader*>(r)->Add(data, size); return 0; }, &reader, nullptr);

#ifndef FILEMON_BACKENDS_EBPF_EVENT_READER_H_
#define FILEMON_BACKENDS_EBPF_EVENT_READER_H_

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "filemon/backends/ebpf/event.h"
#include "filemon/backends/path_rules.h"
#include "filemon/backends/ptrace/syscall_table.h"
#include "filemon/core/backend.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace ebpf_internal {

// How the BPF program captures `op` (op 0: not captured; exec is recorded at the exec event).
fe_plan PlanFor(ptrace_internal::Op op, const TraceOptions& options);

class EventReader {
 public:
  EventReader(const TraceOptions& options, RecordSink* sink);
  EventReader(const EventReader&) = delete;  // owns large scratch buffers
  EventReader& operator=(const EventReader&) = delete;
  ~EventReader();

  // One ring-buffer event; an event shorter than its header says is counted in `malformed()`
  // and never read past.
  void Add(const void* data, size_t size);

  uint64_t malformed() const { return malformed_; }
  // Children the kernel could not add to the tree (FE_UNTRACED): each said in a comment.
  uint64_t untraced() const { return untraced_; }

  // The end of a run or session: what was lost, `lost_records` events the kernel could not
  // put in the full ring buffer and the malformed ones, said in `sink` (`# filemon: lost N
  // records`), and with the children it could not trace (each said already), returned as
  // DataLoss naming both; OK when nothing was lost.
  absl::Status ReportLosses(uint64_t lost_records, RecordSink* sink) const;

  // Where the next records go (a session is given a sink per call).
  void set_sink(RecordSink* sink) { sink_ = sink; }

  // The processes of the tree alive by the events read so far: `root`, then every forked child
  // until its X. 0 once the whole tree has exited, unless events were lost.
  void AddRoot(uint32_t root) { live_.insert(root); }
  size_t live() const { return live_.size(); }

 private:
  struct Scratch;
  void AddCall(const fe_header& h, const absl::string_view* s);
  // A failed lookup (TraceOptions::probes): `N`, once per process and path.
  void AddProbe(const fe_header& h, const absl::string_view* s);
  void Comment(uint32_t pid, absl::string_view text);

  TraceOptions options_;
  RecordSink* sink_;
  std::unique_ptr<Scratch> scratch_;
  uint64_t malformed_ = 0;
  uint64_t untraced_ = 0;
  absl::flat_hash_set<uint32_t> live_;
  path_rules::ProbeMemory probed_;
};

}  // namespace ebpf_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_EVENT_READER_H_
