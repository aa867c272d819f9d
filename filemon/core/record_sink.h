// File: filemon/core/record_sink.h
//
// Where records go: the writer (FreeBSD text), a JSON/proto collector, a test's vector, the
// meta analyzer. Backends produce into a `RecordSink` and know nothing of formats.

#ifndef FILEMON_CORE_RECORD_SINK_H_
#define FILEMON_CORE_RECORD_SINK_H_

#include "absl/status/status.h"
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

}  // namespace filemon

#endif  // FILEMON_CORE_RECORD_SINK_H_
