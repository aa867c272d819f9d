// File: filemon/meta/run_and_record.h
//
// Runs a target's commands under a tracing backend and writes its `.meta` the way bmake's meta
// mode does (meta_writer.h has the layout): the commands' output captured into the
// `-- command output --` section (and copied to the caller if asked), `*** Error code N` when
// a command fails (N: its exit status, or the number of the signal that killed it, as bmake's
// compat mode writes it), the filemon section, written atomically; and, when a command failed
// or the run was interrupted, the target removed, so that the next check finds it out of date
// (`target_missing`) rather than up to date. The caller chooses the backend
// (filemon/backends/backend_factory.h): this library depends on core only.
//
// Thread-safety: concurrent calls for different targets are fine as far as the backend's
// `Run()` is (one backend per thread is always safe); nothing process-wide changes.
//
// Example:
//   filemon::meta::RunAndRecordOptions options;
//   options.meta_path = "obj/foo.o.meta";
//   options.target = "foo.o";
//   options.cwd = "obj";
//   options.commands = {{"cc -c ../foo.c"}};
//   absl::StatusOr<filemon::meta::RunAndRecordResult> r =
//       filemon::meta::RunAndRecord(**backend, options);
//   if (!r.ok()) ...;              // could not trace or write: no .meta written
//   else if (r->failed) ...;       // .meta says "*** Error code N"; foo.o removed

#ifndef FILEMON_META_RUN_AND_RECORD_H_
#define FILEMON_META_RUN_AND_RECORD_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "filemon/core/backend.h"

namespace filemon {
namespace meta {

// One command of a target.
struct RecordedCommand {
  // The `CMD` line (bmake: the expanded command). With `argv` empty it is also what runs, as
  // `/bin/sh -c text`, which is how bmake runs a command.
  std::string text;
  // What runs instead, when not empty; `text` should then be how sh(1) would read it back.
  std::vector<std::string> argv;
};

struct RunAndRecordOptions {
  // Where the .meta goes; relative: to the process's working directory (not `cwd`).
  std::string meta_path;
  // The `TARGET` record; relative to `cwd`, or absolute. Removed when a command fails.
  std::string target;
  // The commands' working directory and the `CWD` record (as realpath(3) gives it); empty:
  // the process's working directory.
  std::string cwd;
  // Run in order, each traced into the same filemon section; the first that fails ends the
  // run (bmake). REQUIRES: not empty.
  std::vector<RecordedCommand> commands;
  // Each command's environment ("NAME=value"); unset: the caller's.
  absl::optional<std::vector<std::string>> env;
  // The commands' output is captured for the .meta; also copied here as it arrives (say 1, to
  // show it as make does); -1: not shown.
  int passthrough_fd = -1;
  // Passed to `Backend::Run` for each command (absolute paths, signal forwarding).
  TraceOptions trace;
  // Keep the target when a command fails or the run is interrupted (bmake's .PRECIOUS).
  bool keep_target_on_failure = false;
  // Asked after each command: the signal the caller received meanwhile (a tool's handlers,
  // e.g. ScopedSignalPassing::received()), or 0. A signal interrupts the run as it interrupts
  // bmake's compat mode (its CompatInterrupt): no further command runs, the target is
  // removed (unless keep_target_on_failure) and the signal is in `interrupted`; the caller
  // then dies of it as bmake does. Unset: never interrupted.
  std::function<int()> interrupted;
};

struct RunAndRecordResult {
  // A command exited non-zero or was killed; `exit` is that command's status.
  bool failed = false;
  // The failing command's status, or the last command's.
  ExitStatus exit;
  // The signal that interrupted the run (RunAndRecordOptions::interrupted), else 0.
  int interrupted = 0;
  // The commands' stdout and stderr, as in the .meta's output section.
  std::string output;
  // The .meta as written (absolute).
  std::string meta_path;
};

// Runs `options.commands` under `backend` and writes the .meta. A failing command is a result
// (`failed`), not an error. Errors: invalid options; the backend could not trace a command
// (no .meta is written, and the target is removed even with `keep_target_on_failure`, so that
// the next check rebuilds it; the message starts with "cannot trace '"); the .meta could not
// be written. Each error names the path or
// the command.
absl::StatusOr<RunAndRecordResult> RunAndRecord(Backend& backend,
                                                const RunAndRecordOptions& options);

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_RUN_AND_RECORD_H_
