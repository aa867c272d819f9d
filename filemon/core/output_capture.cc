#include "filemon/core/output_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "absl/status/status.h"

namespace filemon {
namespace {

void CopyTo(int fd, const char* data, size_t size) {
  for (size_t done = 0; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Reads `fd` into `*output` until EOF, or until `stop_fd` is readable and `fd` has nothing
// left to read right now.
void Drain(int fd, int stop_fd, int passthrough_fd, std::string* output) {
  char buf[1 << 14];
  bool stopping = false;
  while (true) {
    if (!stopping) {
      struct pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) {
        stopping = true;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      } else if (fds[0].revents == 0) {
        continue;
      }
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EOF, or (stopping) nothing more now
    output->append(buf, static_cast<size_t>(n));
    if (passthrough_fd >= 0) CopyTo(passthrough_fd, buf, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<ExitStatus> RunCapturingOutput(Backend& backend, Command command,
                                              const TraceOptions& options, RecordSink* sink,
                                              std::string* output, const CaptureOptions& capture) {
  int out[2], stop[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2(command output)");
  if (pipe2(stop, O_CLOEXEC) != 0) {
    const int e = errno;
    close(out[0]);
    close(out[1]);
    return absl::ErrnoToStatus(e, "pipe2(command output)");
  }
  std::thread reader(Drain, out[0], stop[0], capture.passthrough_fd, output);
  command.stdout_fd = out[1];
  command.stderr_fd = out[1];
  absl::StatusOr<ExitStatus> exit = backend.Run(command, options, sink);
  close(out[1]);   // EOF for the reader once the command tree's copies are gone too
  close(stop[1]);  // and it stops waiting for a copy held outside the tree
  reader.join();
  close(out[0]);
  close(stop[0]);
  return exit;
}

}  // namespace filemon
