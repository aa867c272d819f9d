// File: filemon/backends/session_log.h
//
// The records of a `TraceSession` (filemon/core/backend.h) on their way to the caller: the
// tracer (ptrace: another process) writes FreeBSD text records into a file
// (a memfd) as it goes, and the caller's `Process()`/`Finish()` move what is there into its
// sink. `SessionLogReader` is the caller's side: it reads from where it stopped, parses the
// complete lines (a line being written waits for its end) and hands the records on.
//
// Example:
//   SessionLogReader reader(memfd);            // the fd must outlive the reader
//   absl::Status s = reader.Deliver(sink, /*final=*/false);  // what is complete now
//   s = reader.Deliver(sink, /*final=*/true);   // the writer is done: everything

#ifndef FILEMON_BACKENDS_SESSION_LOG_H_
#define FILEMON_BACKENDS_SESSION_LOG_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "filemon/core/record_sink.h"

namespace filemon {

// Not thread-safe (the writer may be another thread or process).
class SessionLogReader {
 public:
  explicit SessionLogReader(int fd) : fd_(fd) {}

  // Moves the records written since the last call into `sink`: the complete lines, or with
  // `final` (the writer is done) everything, an unterminated last line included. A malformed
  // line is an error (after the records before it).
  absl::Status Deliver(RecordSink* sink, bool final);

 private:
  int fd_;
  off_t offset_ = 0;
  std::string pending_;  // bytes read but not yet parsed (an incomplete last line)
};

}  // namespace filemon

#endif  // FILEMON_BACKENDS_SESSION_LOG_H_
