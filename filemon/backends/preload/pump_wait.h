// File: filemon/backends/preload/pump_wait.h
//
// How the pump (pump.h) waits between two drains: the only thing its two ways of running
// differ in.
//
// The supervisor never waits where a sender would have to wake it: a write to a pipe whose
// reader sleeps in poll(2) or read(2) pays for the wakeup (on a VM an inter-processor
// interrupt, most of the interposer's cost on a compiler workload), a write nobody waits for
// only queues the message. So `TickWait` sleeps in poll on the watched process's pidfd (the
// traced tree is gone) and the sockets (rare: messages over PIPE_BUF, reconnections), and the
// pump drains the pipe on a tick timed from the rate at which the last drains found records:
// long enough that about an eighth of the pipe fills between two drains, at most
// `kMaxTickMs`; at once again when a drain found it a quarter full. Each wakeup costs the
// traced programs too, even from another core, hence the long ceiling. The pipe then holds
// several ticks' worth of records; a sender that finds it full blocks until the next drain.
// Kernels without pidfd_open (< 5.3) use `PollWait`: poll on the pipe and the sockets.

#ifndef FILEMON_BACKENDS_PRELOAD_PUMP_WAIT_H_
#define FILEMON_BACKENDS_PRELOAD_PUMP_WAIT_H_

#include <poll.h>

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace preload_internal {

class WaitStrategy {
 public:
  enum class Drain {
    kNone,  // nothing to read
    kPipe,  // the pipe only (a tick)
    kAll,   // the sockets, the pipe, then the peers and the queued socket messages
  };
  struct Wakeup {
    Drain drain = Drain::kNone;
    bool watched_exited = false;  // the watched process is gone: stop after this drain
  };
  virtual ~WaitStrategy() = default;

  // Waits until there is something to do. `fds` holds the pump's descriptors (revents 0; a
  // negative fd is ignored); the strategy may append its own after them. Returns poll's error.
  virtual absl::StatusOr<Wakeup> Wait(std::vector<pollfd>* fds) = 0;
  // After the drain `Wait` asked for: `messages` handled, `pipe_bytes` read from the pipe.
  virtual void Drained(size_t messages, size_t pipe_bytes) = 0;
};

// CLOCK_MONOTONIC in milliseconds: the clock of the ticks.
double NowMs();

// The wait before the next drain of the pipe, from the last drain: `bytes` read after
// `elapsed_ms`. Aims at an eighth of `capacity` per tick at the rate just seen; 0 (drain again
// at once) when a drain found the pipe a quarter full; `max_ms` when nothing came.
int NextTickMs(size_t bytes, size_t capacity, double elapsed_ms, int max_ms);

// Sleeps in poll on the sockets and `pidfd` (the watched process), draining the pipe on the
// adaptive tick.
class TickWait : public WaitStrategy {
 public:
  static constexpr int kMaxTickMs = 64;
  TickWait(OwnedFd pidfd, size_t pipe_capacity);
  absl::StatusOr<Wakeup> Wait(std::vector<pollfd>* fds) override;
  void Drained(size_t messages, size_t pipe_bytes) override;

 private:
  OwnedFd pidfd_;
  size_t pipe_capacity_;
  int tick_ms_ = 1;
  double last_drain_ms_;  // CLOCK_MONOTONIC
};

// Sleeps in poll on the sockets and the pipe (`pipe_fd`); while the last drain found messages,
// drains again after a millisecond without polling. `exited` (may be empty: never) says
// whether the watched process is gone, asked after a second without messages.
class PollWait : public WaitStrategy {
 public:
  PollWait(int pipe_fd, std::function<bool()> exited);
  absl::StatusOr<Wakeup> Wait(std::vector<pollfd>* fds) override;
  void Drained(size_t messages, size_t pipe_bytes) override;

 private:
  int pipe_fd_;
  std::function<bool()> exited_;
  bool busy_ = false;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PUMP_WAIT_H_
