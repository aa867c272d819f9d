#include "filemon/backends/start_report.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "filemon/core/find_program.h"

namespace filemon {
namespace {

// The bytes on the pipe: smaller than PIPE_BUF, so that one write(2) puts them there whole.
struct Report {
  int error;
  StartStep step;
};

}  // namespace

void WriteStartReport(int fd, StartStep step, int error) {
  const Report report{error, step};
  while (write(fd, &report, sizeof(report)) < 0 && errno == EINTR) {
  }
}

absl::Status ReadStartReport(int fd, const Command& command, const std::string& program,
                             absl::string_view trace_failure) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  Report report;
  ssize_t n;
  do {
    n = read(fd, &report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(report))) return absl::OkStatus();
  std::string call;
  switch (report.step) {
    case StartStep::kChdir:
      call = absl::StrCat("chdir(", command.cwd, ")");
      break;
    case StartStep::kRedirect:
      call = "dup2(the command's output)";
      break;
    case StartStep::kTrace:
      return absl::ErrnoToStatus(report.error, trace_failure);
    case StartStep::kExec:
      call = DescribeFailedExec(report.error, program, command.cwd);
      break;
  }
  return absl::ErrnoToStatus(report.error, absl::StrCat("cannot start the command: ", call));
}

}  // namespace filemon
