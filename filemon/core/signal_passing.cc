#include "filemon/core/signal_passing.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace filemon {
namespace {

std::atomic<RunControl*> g_control{nullptr};
volatile sig_atomic_t g_received = 0;

// Whether the kernel sent `signal` to the whole foreground process group, the command
// included. A terminal's ^C and ^\ are; its hangup is not when this process leads the session
// (a tmux pane, `ssh host filemon ...`, setsid): the kernel then sends SIGHUP to the session
// leader alone. getsid and getpid are async-signal-safe.
bool ReachedTheGroup(int signal, const siginfo_t* info) {
  if (info == nullptr || info->si_code <= 0) return false;  // kill(), sigqueue(), tgkill()...
  return !(signal == SIGHUP && getsid(0) == getpid());
}

void PassSignal(int signal, siginfo_t* info, void*) {
  g_received = signal;
  RunControl* control = g_control.load();
  if (control == nullptr) return;
  control->Signal(
      signal, ReachedTheGroup(signal, info) ? SignalOrigin::kProcessGroup : SignalOrigin::kSender);
}

}  // namespace

ScopedSignalPassing::ScopedSignalPassing(RunControl* control, std::initializer_list<int> signals) {
  g_received = 0;
  g_control.store(control);
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_sigaction = PassSignal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (int signal : signals) {
    Saved saved{signal, {}};
    if (sigaction(signal, nullptr, &saved.previous) != 0) continue;
    // Ignored on entry (a background job's SIGINT, nohup's SIGHUP): the command inherits that,
    // and the program keeps ignoring it too.
    if (saved.previous.sa_handler == SIG_IGN) continue;
    if (sigaction(signal, &action, nullptr) == 0) saved_.push_back(saved);
  }
}

ScopedSignalPassing::~ScopedSignalPassing() {
  for (const Saved& saved : saved_) sigaction(saved.signal, &saved.previous, nullptr);
  g_control.store(nullptr);
}

int ScopedSignalPassing::received() const { return g_received; }

}  // namespace filemon
