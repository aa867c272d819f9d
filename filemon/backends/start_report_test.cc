// WriteStartReport/ReadStartReport (start_report.h): each step's words, and no report when the
// child wrote none.

#include "filemon/backends/start_report.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "filemon/core/backend.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

// What the parent makes of `step` failing with `error` in the child, written to a pipe.
absl::Status RoundTrip(StartStep step, int error, const Command& command) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  WriteStartReport(fds[1], step, error);
  absl::Status status = ReadStartReport(fds[0], command, "/nonexistent/prog", "tracing failed");
  close(fds[0]);
  close(fds[1]);
  return status;
}

TEST(StartReport, EachStepHasItsWords) {
  Command command;
  command.argv = {"prog"};
  command.cwd = "/nonexistent/dir";
  const struct {
    StartStep step;
    int error;
    std::string want;
  } cases[] = {
      {StartStep::kChdir, ENOENT,
       "cannot start the command: chdir(/nonexistent/dir): No such file or directory"},
      {StartStep::kRedirect, EBADF,
       "cannot start the command: dup2(the command's output): Bad file descriptor"},
      {StartStep::kTrace, EPERM, "tracing failed: Operation not permitted"},
      {StartStep::kExec, EACCES,
       "cannot start the command: execve(/nonexistent/prog): Permission denied"},
  };
  for (const auto& c : cases) {
    const absl::Status status = RoundTrip(c.step, c.error, command);
    EXPECT_EQ(status.message(), c.want);
    EXPECT_EQ(status.code(), absl::ErrnoToStatusCode(c.error));
  }
}

// The child exec'd: nothing on the pipe, and the read does not wait for the write end's close.
TEST(StartReport, NoReportIsOk) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  Command command;
  command.argv = {"prog"};
  EXPECT_TRUE(ReadStartReport(fds[0], command, "prog", "tracing failed").ok());
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace filemon
