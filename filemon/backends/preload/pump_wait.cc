#include "filemon/backends/preload/pump_wait.h"

#include <errno.h>
#include <time.h>

#include <utility>

#include "absl/status/status.h"

namespace filemon {
namespace preload_internal {
namespace {

// poll(2) over `fds`; EINTR counts as nothing ready.
absl::StatusOr<int> Poll(std::vector<pollfd>* fds, int timeout_ms) {
  const int n = poll(fds->data(), fds->size(), timeout_ms);
  if (n < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "preload: poll");
  return n;
}

}  // namespace

double NowMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

int NextTickMs(size_t bytes, size_t capacity, double elapsed_ms, int max_ms) {
  if (bytes >= capacity / 4) return 0;
  if (bytes == 0) return max_ms;
  const double ms = elapsed_ms * static_cast<double>(capacity / 8) / static_cast<double>(bytes);
  return ms >= max_ms ? max_ms : ms < 1 ? 1 : static_cast<int>(ms);
}

TickWait::TickWait(OwnedFd pidfd, size_t pipe_capacity)
    : pidfd_(std::move(pidfd)), pipe_capacity_(pipe_capacity), last_drain_ms_(NowMs()) {}

absl::StatusOr<WaitStrategy::Wakeup> TickWait::Wait(std::vector<pollfd>* fds) {
  const size_t own = fds->size();
  fds->push_back({pidfd_.get(), POLLIN, 0});
  absl::StatusOr<int> n = Poll(fds, tick_ms_);
  if (!n.ok()) return n.status();
  Wakeup wakeup;
  wakeup.watched_exited = *n > 0 && (*fds)[own].revents != 0;
  bool sockets = false;
  // fds[0] is the pump's wake descriptor, not a socket.
  for (size_t i = 1; *n > 0 && i < own; ++i) sockets |= (*fds)[i].revents != 0;
  wakeup.drain = sockets || wakeup.watched_exited ? Drain::kAll : Drain::kPipe;
  return wakeup;
}

void TickWait::Drained(size_t /*messages*/, size_t pipe_bytes) {
  const double now = NowMs();
  tick_ms_ = NextTickMs(pipe_bytes, pipe_capacity_, now - last_drain_ms_, kMaxTickMs);
  last_drain_ms_ = now;
}

PollWait::PollWait(int pipe_fd, std::function<bool()> exited)
    : pipe_fd_(pipe_fd), exited_(std::move(exited)) {}

absl::StatusOr<WaitStrategy::Wakeup> PollWait::Wait(std::vector<pollfd>* fds) {
  Wakeup wakeup;
  if (busy_) {
    struct timespec pause = {0, 1000 * 1000};
    nanosleep(&pause, nullptr);
    wakeup.drain = Drain::kAll;
    return wakeup;
  }
  if (pipe_fd_ >= 0) fds->push_back({pipe_fd_, POLLIN, 0});
  absl::StatusOr<int> n = Poll(fds, 1000);
  if (!n.ok()) return n.status();
  if (*n == 0) {
    // The watched process may have been killed without saying goodbye.
    wakeup.watched_exited = exited_ && exited_();
    return wakeup;
  }
  wakeup.drain = Drain::kAll;
  return wakeup;
}

void PollWait::Drained(size_t messages, size_t /*pipe_bytes*/) { busy_ = messages > 0; }

}  // namespace preload_internal
}  // namespace filemon
