// File: filemon/core/output_capture.h
//
// Runs a command under a backend with its standard output and standard error captured into a
// string (through `Command::stdout_fd`/`stderr_fd` and one pipe that a thread drains while the
// command runs), optionally copied as it arrives to a descriptor of the caller (to show it).
// Nothing process-wide changes: the caller's own stdout/stderr are untouched, so concurrent
// runs from several threads each get their own command's output.
//
// Example:
//   std::string output;
//   filemon::CaptureOptions capture;
//   capture.passthrough_fd = 1;  // also show it
//   absl::StatusOr<filemon::ExitStatus> exit =
//       filemon::RunCapturingOutput(*backend, command, {}, &log, &output, capture);

#ifndef FILEMON_CORE_OUTPUT_CAPTURE_H_
#define FILEMON_CORE_OUTPUT_CAPTURE_H_

#include <string>

#include "absl/status/statusor.h"
#include "filemon/core/backend.h"
#include "filemon/core/record_sink.h"

namespace filemon {

struct CaptureOptions {
  // Also copy the output to this descriptor as it arrives; -1: no copy. A failed copy is
  // ignored (the capture goes on).
  int passthrough_fd = -1;
};

// `backend.Run(command, options, sink)` with the command's stdout and stderr (its
// `stdout_fd`/`stderr_fd` are replaced) appended to `*output`, in the order the command tree
// wrote them, also when the run fails. Waits only for what the traced tree wrote: once `Run`
// returns, what is in the pipe is read, and a process outside the tree that still holds the
// pipe is not waited for. Errors: the backend's, or the pipe's creation.
absl::StatusOr<ExitStatus> RunCapturingOutput(Backend& backend, Command command,
                                              const TraceOptions& options, RecordSink* sink,
                                              std::string* output,
                                              const CaptureOptions& capture = {});

}  // namespace filemon

#endif  // FILEMON_CORE_OUTPUT_CAPTURE_H_
