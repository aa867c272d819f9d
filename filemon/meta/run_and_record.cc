#include "filemon/meta/run_and_record.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "filemon/core/output_capture.h"
#include "filemon/core/record_sink.h"
#include "filemon/meta/meta_writer.h"

namespace filemon {
namespace meta {
namespace {

// `path` made absolute against the process's working directory (not resolved further).
absl::StatusOr<std::string> Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char here[PATH_MAX];
  if (getcwd(here, sizeof here) == nullptr) return absl::ErrnoToStatus(errno, "getcwd()");
  return path.empty() ? std::string(here) : absl::StrCat(here, "/", path);
}

// Removes the target (relative to `cwd`); a target that is not there is fine.
absl::Status RemoveTarget(const std::string& cwd, const std::string& target) {
  const std::string path = target[0] == '/' ? target : absl::StrCat(cwd, "/", target);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unlink(", path, ") (failed target)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunAndRecordResult> RunAndRecord(Backend& backend,
                                                const RunAndRecordOptions& options) {
  if (options.meta_path.empty() || options.target.empty() || options.commands.empty()) {
    return absl::InvalidArgumentError("RunAndRecord: needs meta_path, target and commands");
  }
  absl::StatusOr<std::string> cwd = Absolute(options.cwd);
  if (!cwd.ok()) return cwd.status();
  char real[PATH_MAX];
  if (realpath(cwd->c_str(), real) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("realpath(", *cwd, ")"));
  }
  RunAndRecordResult result;
  absl::StatusOr<std::string> meta_path = Absolute(options.meta_path);
  if (!meta_path.ok()) return meta_path.status();
  result.meta_path = *std::move(meta_path);

  MetaHeader header;
  header.meta_path = result.meta_path;
  header.cwd = real;
  header.target = options.target;
  MetaLogBuffer log;
  AddHeader(getpid(), absl::Now(), &log);
  CaptureOptions capture;
  capture.passthrough_fd = options.passthrough_fd;
  // bmake writes every command in the header before the first runs.
  for (const RecordedCommand& recorded : options.commands) header.commands.push_back(recorded.text);
  for (const RecordedCommand& recorded : options.commands) {
    Command command;
    command.argv = recorded.argv.empty() ? std::vector<std::string>{"/bin/sh", "-c", recorded.text}
                                         : recorded.argv;
    command.env = options.env;
    command.cwd = header.cwd;
    absl::StatusOr<ExitStatus> exit = RunCapturingOutput(backend, std::move(command), options.trace,
                                                         &log, &result.output, capture);
    if (!exit.ok()) {
      RemoveTarget(header.cwd, options.target).IgnoreError();  // the trace error comes first
      return absl::Status(exit.status().code(), absl::StrCat("cannot trace '", recorded.text,
                                                             "': ", exit.status().message()));
    }
    result.exit = *exit;
    if (options.interrupted) result.interrupted = options.interrupted();
    if (exit->ShellStatus() != 0) {
      result.failed = true;
      break;
    }
    if (result.interrupted != 0) break;
  }
  AddFooter(absl::Now(), &log);
  absl::optional<MetaError> error;
  // bmake's compat mode: the exit status, or the number of the signal that killed the command.
  const ExitStatus& failed = result.exit;
  if (result.failed) error = MetaError{failed.signal != 0 ? failed.signal : failed.code, false};
  absl::Status written =
      WriteMetaFile(result.meta_path, FormatMeta(header, result.output, error, &log.text()));
  if ((result.failed || result.interrupted != 0) && !options.keep_target_on_failure) {
    absl::Status removed = RemoveTarget(header.cwd, options.target);
    if (written.ok()) written = removed;
  }
  if (!written.ok()) return written;
  return result;
}

}  // namespace meta
}  // namespace filemon
