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
    wake_read_.reset(fds[0]);
    wake_write_.reset(fds[1]);
  }
}

RunControl::~RunControl() = default;

// Only atomics, kill(2), getpgid(2) and write(2): async-signal-safe.
void RunControl::Signal(int signal, SignalOrigin origin) {
  if (signal < 1 || signal > 64) return;
  const int saved_errno = errno;
  const uint64_t bit = uint64_t{1} << (signal - 1);
  const int command = command_.load();
  if (origin == SignalOrigin::kSessionLeader && command != kExited) {
    // The group it goes to at the exit: the command's as it is now (else as it started).
    const pid_t group = command > 0 ? getpgid(command) : 0;
    if (group > 0) group_.store(group);
    at_exit_.fetch_or(bit);
    origin = SignalOrigin::kSender;
  }
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
    // If the command had exited (reaped, the backend may not know yet), the processes it left
    // get the signal. Not when the command was there: it got the signal, perhaps died of it,
    // and the backend may have seen that exit since; its orphans are not for this signal.
    if (gone) Deliver(bit, kExited);
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
    Wake();
  } else {
    held_.fetch_or(mask);  // the run ended meanwhile: the next one gets it
  }
}

void RunControl::Wake() {
  if (wake_write_.valid()) {
    ssize_t unused = write(wake_write_.get(), "s", 1);  // a full pipe is readable already
    (void)unused;
  }
}

void RunControlInternal::CommandStarted(RunControl* control, pid_t pid) {
  if (control == nullptr || pid <= 0) return;
  const pid_t group = getpgid(pid);
  control->group_.store(group > 0 ? group : getpgrp());  // all backends start it in ours
  control->command_.store(pid);
  control->Deliver(control->held_.exchange(0), pid);
}

void RunControlInternal::CommandExited(RunControl* control) {
  if (control == nullptr) return;
  control->command_.store(RunControl::kExited);
  // A session hangup: now the foreground group's turn, SIGCONT after the signal, as the
  // kernel does when a controlling process exits.
  const uint64_t at_exit = control->at_exit_.exchange(0);
  if (at_exit == 0) return;
  control->for_group_.fetch_or(at_exit | (uint64_t{1} << (SIGCONT - 1)));
  control->Wake();
}

int RunControlInternal::WakeFd(const RunControl* control) {
  return control != nullptr ? control->wake_read_.get() : -1;
}

TreeSignals RunControlInternal::TakeTreeSignals(RunControl* control) {
  TreeSignals signals;
  if (control == nullptr) return signals;
  if (control->wake_read_.valid()) {
    char buffer[64];
    while (read(control->wake_read_.get(), buffer, sizeof(buffer)) > 0) {
    }
  }
  signals.all = control->for_tree_.exchange(0);
  signals.group = control->for_group_.exchange(0);
  signals.pgid = control->group_.load();
  return signals;
}

void RunControlInternal::RunEnded(RunControl* control) {
  if (control == nullptr) return;
  control->command_.store(RunControl::kNotStarted);
  control->at_exit_.store(0);
  TakeTreeSignals(control);
}

void TreeSignals::SendTo(pid_t pid) const {
  if (pid <= 1) return;  // never a process group, never init
  const bool in_group = group != 0 && pgid > 0 && getpgid(pid) == pgid;
  for (int signal = 1; signal <= 64; ++signal) {
    const uint64_t bit = uint64_t{1} << (signal - 1);
    if ((all & bit) != 0 || (in_group && (group & bit) != 0)) kill(pid, signal);
  }
}

int RunControlInternal::FirstSignal(uint64_t mask) {
  return mask == 0 ? 0 : __builtin_ctzll(mask) + 1;
}

}  // namespace filemon
