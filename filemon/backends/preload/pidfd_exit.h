// File: filemon/backends/preload/pidfd_exit.h
//
// How a process ended, read through its pidfd by a process that does not reap it: a session's
// supervisor learns how its root ended, while the caller (bmake) reaps the root itself. Before
// the reaping, waitid(WNOWAIT) tells without reaping; after it, Linux 6.15 and later keep the
// status with the pidfd (PIDFD_GET_INFO, PIDFD_INFO_EXIT). On an older kernel, a caller that
// reaped first leaves the status unknown.
//
// Example:
//   PidfdExit exit = ReadPidfdExit(pidfd);
//   if (exit.known) ... X pid exit.code exit.signal

#ifndef FILEMON_BACKENDS_PRELOAD_PIDFD_EXIT_H_
#define FILEMON_BACKENDS_PRELOAD_PIDFD_EXIT_H_

namespace filemon {
namespace preload_internal {

struct PidfdExit {
  bool known = false;  // false: still running, or reaped where the kernel keeps no status
  int code = 0;        // the exit status, when no signal ended it
  int signal = 0;      // the signal that ended it, or 0
};

// How the process of `pidfd` ended, as far as the kernel still says.
PidfdExit ReadPidfdExit(int pidfd);

// Whether this kernel keeps the exit status of a reaped process for its pidfd (ReadPidfdExit
// after the reaping): Linux 6.15 and later, by the kernel's release (uname), asked once per
// process. No child is made for it: a fork would turn every page the caller writes afterwards
// into a copy-on-write fault.
// False from the first PIDFD_GET_INFO the kernel refuses (ENOTTY, EINVAL, EPERM, ENOSYS,
// EOPNOTSUPP: gVisor, a seccomp filter) on: a release that says 6.15+ is not trusted then, and
// callers read the status before the reaping, as on an older kernel. The status of the root
// whose read found the refusal is lost if it was reaped already.
bool KernelKeepsReapedExit();

// For tests only: if `simulate`, act as a kernel that keeps no status for a reaped pidfd
// (`KernelKeepsReapedExit` is false, and `ReadPidfdExit` no longer asks after the reaping),
// process-wide, for the object's scope: switched off at its end, also when a failed ASSERT
// returns early.
class ScopedNoReapedExitForTesting {
 public:
  explicit ScopedNoReapedExitForTesting(bool simulate);
  ~ScopedNoReapedExitForTesting();
  ScopedNoReapedExitForTesting(const ScopedNoReapedExitForTesting&) = delete;
  ScopedNoReapedExitForTesting& operator=(const ScopedNoReapedExitForTesting&) = delete;
};

// For tests only: act as a kernel that says 6.15+ but refuses PIDFD_GET_INFO (gVisor, a seccomp
// filter: ENOTTY), for the object's scope. Its end also forgets a refusal seen meanwhile.
class ScopedRefusedPidfdInfoForTesting {
 public:
  ScopedRefusedPidfdInfoForTesting();
  ~ScopedRefusedPidfdInfoForTesting();
  ScopedRefusedPidfdInfoForTesting(const ScopedRefusedPidfdInfoForTesting&) = delete;
  ScopedRefusedPidfdInfoForTesting& operator=(const ScopedRefusedPidfdInfoForTesting&) = delete;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PIDFD_EXIT_H_
