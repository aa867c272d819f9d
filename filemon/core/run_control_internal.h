// File: filemon/core/run_control_internal.h
//
// The backends' side of `RunControl` (run_control.h). Not for library users. Every function
// accepts a null control (the caller passed none) and then does nothing (`WakeFd`: -1).
//
// The protocol of one run:
//   RunControlInternal::CommandStarted(control, pid);  // the command's pid is known
//   ... while it runs, Signal() sends to `pid` itself ...
//   RunControlInternal::CommandExited(control);        // the command is reaped
//   ... poll WakeFd(control) while waiting for the remaining tree; when readable:
//   TreeSignals signals = RunControlInternal::TakeTreeSignals(control);
//   ... signals.SendTo(pid) for every traced process still running ...
//   RunControlInternal::RunEnded(control);             // on every return path
//
// Example:
//   ScopedRun ended(control);  // calls RunEnded at scope exit

#ifndef FILEMON_CORE_RUN_CONTROL_INTERNAL_H_
#define FILEMON_CORE_RUN_CONTROL_INTERNAL_H_

#include <sys/types.h>

#include <cstdint>

#include "filemon/core/run_control.h"

namespace filemon {

// The signals queued for the processes the command left (bit N-1: signal N).
struct TreeSignals {
  uint64_t all = 0;    // for every traced process still running
  uint64_t group = 0;  // for those in process group `pgid` only (a session hangup's end)
  pid_t pgid = 0;
  // Sends `pid`, a traced process still running, the signals meant for it, in increasing order
  // (SIGHUP before SIGCONT). Async-signal-safe.
  void SendTo(pid_t pid) const;
};

class RunControlInternal {
 public:
  // The command's process is `pid`: signals held so far are sent to it now.
  static void CommandStarted(RunControl* control, pid_t pid);
  // The command has exited: from now on `Signal()` queues signals for the remaining tree and
  // makes `WakeFd()` readable.
  static void CommandExited(RunControl* control);
  // Readable when `TakeTreeSignals()` may return signals; -1 without a control.
  static int WakeFd(const RunControl* control);
  // Empties the wake descriptor and returns the queued signals (none: both masks 0). Only
  // `all` counts as a signal passed after the exit (`ExitStatus::signal_after_exit`): the
  // group's come from a signal the command itself got.
  static TreeSignals TakeTreeSignals(RunControl* control);
  // The run is over (whatever its outcome): the control serves the next run.
  static void RunEnded(RunControl* control);

  // The lowest signal of `mask` (0 if empty).
  static int FirstSignal(uint64_t mask);
};

// Calls `RunControlInternal::RunEnded` when it goes out of scope.
class ScopedRun {
 public:
  explicit ScopedRun(RunControl* control) : control_(control) {}
  ScopedRun(const ScopedRun&) = delete;
  ScopedRun& operator=(const ScopedRun&) = delete;
  ~ScopedRun() { RunControlInternal::RunEnded(control_); }

 private:
  RunControl* control_;
};

}  // namespace filemon

#endif  // FILEMON_CORE_RUN_CONTROL_INTERNAL_H_
