// File: filemon/core/backend.h
//
// The interface every tracing backend implements (ptrace, preload, kernel; see
// filemon/backends). Core defines it so that library users and the meta analyzer depend on core
// alone; `filemon/backends/backend_factory.h` maps a name ("ptrace", "preload", "kernel",
// "auto") to an implementation.
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend =
//       filemon::MakeBackend("auto");           // filemon/backends/backend_factory.h
//   filemon::Writer writer(fd, {});
//   writer.WriteHeader(getpid(), absl::Now());
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &writer);
//   writer.WriteFooter(absl::Now());

#ifndef FILEMON_CORE_BACKEND_H_
#define FILEMON_CORE_BACKEND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "filemon/core/record_sink.h"

namespace filemon {

// A command to start.
struct Command {
  // argv[0] is looked up in PATH when it has no '/', as execvp(3) does. REQUIRES: non-empty.
  std::vector<std::string> argv;
  // The environment ("NAME=value" entries); unset: the caller's environment.
  absl::optional<std::vector<std::string>> env;
  // Working directory of the command; empty: the caller's.
  std::string cwd;
};

struct TraceOptions {
  // Resolve every recorded path to an absolute path at the moment of the call, through the
  // process's cwd and dirfd (FreeBSD cannot do this; the default matches FreeBSD).
  bool absolute_paths = false;
};

// How the traced command ended.
struct ExitStatus {
  int code = 0;    // exit code when `signal` == 0
  int signal = 0;  // the signal that killed it, or 0
  // The shell's convention: `code`, or 128 + `signal`.
  int ShellStatus() const { return signal != 0 ? 128 + signal : code; }
};

// Not thread-safe; one `Run` at a time per instance.
class Backend {
 public:
  virtual ~Backend() = default;

  // "ptrace", "preload", "kernel".
  virtual absl::string_view name() const = 0;

  // Starts `command`, streams the records of it and all its descendants into `sink` (records
  // only: the caller writes the header and footer), and returns once every traced process has
  // exited (orphans and daemons included). Errors are the tracer's own (cannot start the
  // command, backend failure), never the command's exit status.
  virtual absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                         RecordSink* sink) = 0;
};

}  // namespace filemon

#endif  // FILEMON_CORE_BACKEND_H_
