// File: filemon/core/run_control.h
//
// `RunControl`: how the caller of `Backend::Run()` passes a signal to the traced command, from
// any thread or from a signal handler, without the library touching process-wide state (a
// backend never installs a signal handler). The caller installs its own handlers, if any, and
// calls `Signal()` from them.
//
// Example (a tool that passes SIGTERM on; see tools/filemon_trace.cc):
//   filemon::RunControl control;
//   g_control = &control;                      // read by the handler
//   sigaction(SIGTERM, &action, &previous);    // handler: g_control->Signal(sig, origin)
//   filemon::TraceOptions options;
//   options.control = &control;
//   absl::StatusOr<filemon::ExitStatus> exit = backend->Run(command, options, &sink);
//   sigaction(SIGTERM, &previous, nullptr);
//   if (exit.ok() && exit->signal_after_exit != 0) return 128 + exit->signal_after_exit;

#ifndef FILEMON_CORE_RUN_CONTROL_H_
#define FILEMON_CORE_RUN_CONTROL_H_

#include <atomic>
#include <cstdint>

#include "filemon/core/owned_fd.h"

namespace filemon {

class RunControlInternal;

// Where a signal given to `RunControl::Signal()` came from.
enum class SignalOrigin {
  // Sent to the caller alone (kill(1), timeout(1)): the command has not got it.
  kSender,
  // Sent by the kernel to the caller's whole foreground process group (a terminal's ^C, ^\,
  // hangup; siginfo's si_code > 0): the command, in the same group, got it too. A hangup that
  // reaches a session leader is not one: the kernel sends it to the leader alone.
  kProcessGroup,
  // Sent by the kernel to the caller alone as the controlling process of its session (its
  // leader: a tmux pane, `ssh -t host filemon ...`, `setsid`), i.e. the terminal's hangup.
  // Untraced, the command would have been that process: it gets the signal, and when it exits
  // the kernel sends SIGHUP and SIGCONT to the foreground process group. So: sent to the
  // command, and when the command exits, the signal and SIGCONT go to the traced processes
  // still running in the command's process group.
  kSessionLeader,
};

// One run at a time (see `TraceOptions::control`); reusable for the next run. Thread-safe.
class RunControl {
 public:
  RunControl();
  RunControl(const RunControl&) = delete;
  RunControl& operator=(const RunControl&) = delete;
  ~RunControl();

  // Passes `signal` (1..64) on. Async-signal-safe (keeps errno); callable from any thread or a
  // signal handler, also while no run is in progress:
  // - while the command's process runs: sent to it (a kProcessGroup signal is not sent again;
  //   a kSessionLeader one also waits for the command's exit, see SignalOrigin);
  // - before the command's pid is known (the run is starting, or not started yet): held and
  //   sent to the command once its pid is known (kProcessGroup signals are not held);
  // - once the command has exited (or is gone before the backend noticed): sent, whatever its
  //   origin, to every process of the traced tree still running (orphans, daemons); the run
  //   still waits for them and completes its records, and reports the signal in
  //   `ExitStatus::signal_after_exit`.
  void Signal(int signal, SignalOrigin origin = SignalOrigin::kSender);

 private:
  friend class RunControlInternal;
  static constexpr int kNotStarted = 0;
  static constexpr int kExited = -1;

  // Sends the signals of `mask` (bit N-1: signal N) as the state `command` says.
  void Deliver(uint64_t mask, int command);
  // Makes the wake descriptor readable.
  void Wake();

  std::atomic<int> command_{kNotStarted};  // the command's pid, or kNotStarted / kExited
  std::atomic<uint64_t> held_{0};          // waiting for the command's pid
  std::atomic<uint64_t> for_tree_{0};      // waiting for the backend to pass them to the tree
  std::atomic<uint64_t> at_exit_{0};       // kSessionLeader: for the group when the command exits
  std::atomic<uint64_t> for_group_{0};     // waiting for the backend to pass them to `group_`
  std::atomic<int> group_{0};              // the command's process group, for `for_group_`
  OwnedFd wake_read_;                      // readable while `for_tree_` may be non-empty
  OwnedFd wake_write_;
};

}  // namespace filemon

#endif  // FILEMON_CORE_RUN_CONTROL_H_
