// File: filemon/core/record_sink.h
//
// Where records go: the writer (FreeBSD text), a JSON/proto collector, a test's vector, the
// meta analyzer. Backends produce into a `RecordSink` and know nothing of formats.
//
// Example:
//   filemon::AddHeader(getpid(), absl::Now(), &sink);
//   sink.Add(filemon::Record::Path(filemon::RecordKind::kRead, pid, "/etc/motd"));
//   filemon::AddFooter(absl::Now(), &sink);

#ifndef FILEMON_CORE_RECORD_SINK_H_
#define FILEMON_CORE_RECORD_SINK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "filemon/core/record.h"

namespace filemon {

// Thread-compatible, not thread-safe: one producer at a time (a backend serialises its own
// producers).
class RecordSink {
 public:
  virtual ~RecordSink() = default;

  // Takes one record. The record's views are valid only during the call: a sink that keeps a
  // record copies what it needs. Failure is sticky and reported by `status()`; a sink keeps
  // accepting (and dropping) records after a failure so that producers need no error path per
  // record.
  virtual void Add(const Record& record) = 0;

  // Pushes buffered records to their destination. Returns `status()`.
  virtual absl::Status Flush() { return status(); }

  // The first failure, or OK.
  virtual absl::Status status() const { return absl::OkStatus(); }
};

// Adds the FreeBSD v5 header records: "# filemon version 5", "# Target pid N",
// "# Start S.U" (`start`, microseconds), "V 5".
void AddHeader(int64_t target_pid, absl::Time start, RecordSink* sink);
// Adds the footer records: "# Stop S.U", "# Bye bye".
void AddFooter(absl::Time stop, RecordSink* sink);

}  // namespace filemon

#endif  // FILEMON_CORE_RECORD_SINK_H_
