#include "filemon/core/run_control.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "filemon/core/run_control_internal.h"

namespace filemon {

RunControl::RunControl() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = fds[0];
    wake_write_ = fds[1];
  }
}

RunControl::~RunControl() {
  if (wake_read_ >= 0) close(wake_read_);
  if (wake_write_ >= 0) close(wake_write_);
}

// Only atomics, kill(2) and write(2): async-signal-safe.
void RunControl::Signal(int signal, SignalOrigin origin) {
  if (signal < 1 || signal > 64) return;
  const int saved_errno = errno;
  const uint64_t bit = uint64_t{1} << (signal - 1);
  const int command = command_.load();
  if (command == kNotStarted) {
    if (origin == SignalOrigin::kSender) {
      held_.fetch_or(bit);
      // CommandStarted() may have taken `held_` just before our bit arrived: take it back.
      const int now = command_.load();
      if (now != kNotStarted) Deliver(held_.exchange(0), now);
    }
  } else if (command > 0) {
    // A kProcessGroup signal only probes (signal 0) whether the command is still there.
    const bool gone =
        kill(command, origin == SignalOrigin::kSender ? signal : 0) != 0 && errno == ESRCH;
    // If the command exited meanwhile (reaped, the backend may not know yet), the processes it
    // left get the signal.
    if (gone || command_.load() == kExited) Deliver(bit, kExited);
  } else {
    Deliver(bit, kExited);
  }
  errno = saved_errno;
}

void RunControl::Deliver(uint64_t mask, int command) {
  if (mask == 0) return;
  if (command > 0) {
    for (int signal = 1; signal <= 64; ++signal) {
      if ((mask & (uint64_t{1} << (signal - 1))) != 0) kill(command, signal);
    }
  } else if (command == kExited) {
    for_tree_.fetch_or(mask);
    if (wake_write_ >= 0) {
      ssize_t unused = write(wake_write_, "s", 1);  // a full pipe is readable already
      (void)unused;
    }
  } else {
    held_.fetch_or(mask);  // the run ended meanwhile: the next one gets it
  }
}

void RunControlInternal::CommandStarted(RunControl* control, pid_t pid) {
  if (control == nullptr || pid <= 0) return;
  control->command_.store(pid);
  control->Deliver(control->held_.exchange(0), pid);
}

void RunControlInternal::CommandExited(RunControl* control) {
  if (control != nullptr) control->command_.store(RunControl::kExited);
}

int RunControlInternal::WakeFd(const RunControl* control) {
  return control != nullptr ? control->wake_read_ : -1;
}

uint64_t RunControlInternal::TakeTreeSignals(RunControl* control) {
  if (control == nullptr) return 0;
  if (control->wake_read_ >= 0) {
    char buffer[64];
    while (read(control->wake_read_, buffer, sizeof(buffer)) > 0) {
    }
  }
  return control->for_tree_.exchange(0);
}

void RunControlInternal::RunEnded(RunControl* control) {
  if (control == nullptr) return;
  control->command_.store(RunControl::kNotStarted);
  TakeTreeSignals(control);
}

int RunControlInternal::FirstSignal(uint64_t mask) {
  return mask == 0 ? 0 : __builtin_ctzll(mask) + 1;
}

}  // namespace filemon
