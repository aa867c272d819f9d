// File: filemon/core/signal_passing.h
//
// For programs (a tool's main), never used by the library: installs process-wide handlers that
// pass signals to a `RunControl` (run_control.h) while it lives, and restores the previous
// handlers afterwards. A signal the kernel sent to the whole foreground process group (a
// terminal's; siginfo's si_code > 0) is passed as `SignalOrigin::kProcessGroup`, a terminal's
// hangup that reached this process as its session's leader as `kSessionLeader`, any other
// (kill(1), timeout(1)) as `kSender`. A signal ignored on entry (SIG_IGN: a background job's
// SIGINT, nohup's SIGHUP) stays ignored.
//
// Example:
//   filemon::RunControl control;
//   filemon::TraceOptions options;
//   options.control = &control;
//   {
//     filemon::ScopedSignalPassing passing(&control);  // SIGINT, SIGTERM, SIGHUP, SIGQUIT
//     exit = backend->Run(command, options, &sink);
//   }                                                  // the previous handlers are back

#ifndef FILEMON_CORE_SIGNAL_PASSING_H_
#define FILEMON_CORE_SIGNAL_PASSING_H_

#include <signal.h>

#include <initializer_list>
#include <vector>

#include "filemon/core/run_control.h"

namespace filemon {

// REQUIRES: at most one alive per process at a time.
class ScopedSignalPassing {
 public:
  explicit ScopedSignalPassing(RunControl* control, std::initializer_list<int> signals = {
                                                        SIGINT, SIGTERM, SIGHUP, SIGQUIT});
  ScopedSignalPassing(const ScopedSignalPassing&) = delete;
  ScopedSignalPassing& operator=(const ScopedSignalPassing&) = delete;
  ~ScopedSignalPassing();

  // The last signal received so far (0: none); e.g. to stop before a next command.
  int received() const;

 private:
  struct Saved {
    int signal;
    struct sigaction previous;
  };
  std::vector<Saved> saved_;
};

}  // namespace filemon

#endif  // FILEMON_CORE_SIGNAL_PASSING_H_
