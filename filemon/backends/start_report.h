// File: filemon/backends/start_report.h
//
// How a backend's child tells its parent that the command did not start, and the words for it,
// alike for every backend that starts its command so (ptrace, ebpf). Between fork (or vfork)
// and execve the child takes its steps in order (StartStep); when one fails, it writes one
// report, the step and its errno, to a close-on-exec pipe and exits. The parent reads the pipe
// once the child has exec'd or gone: no report means that the exec happened.
//
// Example:
//   // the child, after a failed chdir(command.cwd):
//   WriteStartReport(report_write, StartStep::kChdir, errno);
//   _exit(127);
//   // the parent, once the child has exec'd or exited:
//   absl::Status started = ReadStartReport(report_read, command, program, "...");

#ifndef FILEMON_BACKENDS_START_REPORT_H_
#define FILEMON_BACKENDS_START_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "filemon/core/backend.h"

namespace filemon {

// The child's steps from fork to the command's execve, in order.
enum class StartStep : int {
  kChdir,     // chdir(command.cwd)
  kRedirect,  // RedirectCommandOutput(command)
  kTrace,     // the backend's own preparation of the child for tracing
  kExec,      // execve(program)
};

// Writes the report of `step` failing with errno `error` to `fd`, in one write(2).
// Async-signal-safe and allocates nothing: a vfork child calls it.
void WriteStartReport(int fd, StartStep step, int error);

// Reads the child's report from `fd` without waiting (it sets `fd` non-blocking) and returns
// OK when there is none, else the error: "cannot start the command: chdir(CWD)", "...: dup2(the
// command's output)" or "...: " + DescribeFailedExec(error, program, command.cwd), with the
// errno's words, and for kTrace `trace_failure` (the backend's words) with them.
// REQUIRES: the child has exec'd or exited (its report, if any, is whole in the pipe). Reads
// one report, not to EOF: a process the caller forks meanwhile may hold the write end.
absl::Status ReadStartReport(int fd, const Command& command, const std::string& program,
                             absl::string_view trace_failure);

}  // namespace filemon

#endif  // FILEMON_BACKENDS_START_REPORT_H_
