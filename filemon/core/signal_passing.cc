#include "filemon/core/signal_passing.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace filemon {
namespace {

std::atomic<RunControl*> g_control{nullptr};
volatile sig_atomic_t g_received = 0;

// Where `signal` came from. The kernel sends a terminal's ^C and ^\ to the whole foreground
// process group, the command included; its hangup too, except when this process leads the
// session (a tmux pane, `ssh host filemon ...`, setsid): the kernel then sends SIGHUP to the
// session leader alone, and the foreground group's turn comes when the leader exits.
// getsid and getpid are async-signal-safe.
SignalOrigin OriginOf(int signal, const siginfo_t* info) {
  // kill(), sigqueue(), tgkill()...
  if (info == nullptr || info->si_code <= 0) return SignalOrigin::kSender;
  if (signal == SIGHUP && getsid(0) == getpid()) return SignalOrigin::kSessionLeader;
  return SignalOrigin::kProcessGroup;
}

void PassSignal(int signal, siginfo_t* info, void*) {
  g_received = signal;
  RunControl* control = g_control.load();
  if (control == nullptr) return;
  control->Signal(signal, OriginOf(signal, info));
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
