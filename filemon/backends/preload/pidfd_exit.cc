#include "filemon/backends/preload/pidfd_exit.h"

#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#ifndef P_PIDFD  // glibc before 2.36
#define P_PIDFD 3
#endif

namespace filemon {
namespace preload_internal {
namespace {

// Linux's struct pidfd_info up to its exit code (PIDFD_INFO_SIZE_VER0, include/uapi/linux/
// pidfd.h since 6.13; the exit code is filled since 6.15), for headers that predate it.
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t ids[11];   // pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid
  int32_t exit_code;  // a wait status
};
static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");

constexpr uint64_t kPidfdInfoExit = 1ULL << 3;                       // PIDFD_INFO_EXIT
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);  // PIDFD_GET_INFO

PidfdExit FromWaitStatus(int status) {
  PidfdExit exit;
  if (WIFEXITED(status)) {
    exit.known = true;
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.known = true;
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

std::atomic<bool> g_simulate_no_reaped_exit{false};
std::atomic<bool> g_simulate_refused_info{false};
// PIDFD_GET_INFO was refused once (not: this process's status is gone): the kernel's release
// is not to be trusted for it in this process from then on.
std::atomic<bool> g_info_refused{false};

// An errno of an ioctl the kernel (or a sandbox, or a seccomp filter) does not serve at all,
// rather than one about this pidfd (ESRCH: reaped where no status was kept).
bool Refused(int error) {
  return error == ENOTTY || error == EINVAL || error == EPERM || error == ENOSYS ||
         error == EOPNOTSUPP;
}

// The status PIDFD_GET_INFO gives for the process of `pidfd`, once it has exited.
PidfdExit GetInfoExit(int pidfd) {
  PidfdInfo pidfd_info{};
  pidfd_info.mask = kPidfdInfoExit;
  const int asked = g_simulate_refused_info.load(std::memory_order_relaxed)
                        ? (errno = ENOTTY, -1)
                        : ioctl(pidfd, kPidfdGetInfo, &pidfd_info);
  if (asked != 0 && Refused(errno)) g_info_refused.store(true, std::memory_order_relaxed);
  if (asked != 0 || !(pidfd_info.mask & kPidfdInfoExit)) return PidfdExit();
  return FromWaitStatus(pidfd_info.exit_code);
}

// The decimal number at `*p`, and `*p` past its digits; false if there are none.
bool ReadNumber(const char** p, unsigned* value) {
  const char* start = *p;
  *value = 0;
  while (**p >= '0' && **p <= '9') *value = *value * 10 + static_cast<unsigned>(*(*p)++ - '0');
  return *p != start;
}

// Linux keeps a reaped process's exit status for PIDFD_GET_INFO from 6.15 on (PIDFD_INFO_EXIT
// is filled at the reaping). Asked of the release rather than of a child made for the purpose:
// a fork here would make every page the caller writes afterwards take a copy-on-write fault,
// and a clone sharing the memory would run on the caller's stack. A kernel that backports it
// under an older number takes the older kernels' path, which is correct there too. The
// release is read without sscanf: its first call in a process (bmake makes none of its own)
// costs more than the rest of this check.
bool ReleaseKeepsReapedExit() {
  struct utsname name;
  if (uname(&name) != 0) return false;
  const char* p = name.release;
  unsigned major = 0, minor = 0;
  if (!ReadNumber(&p, &major) || *p++ != '.' || !ReadNumber(&p, &minor)) return false;
  return major > 6 || (major == 6 && minor >= 15);
}

}  // namespace

bool KernelKeepsReapedExit() {
  if (g_simulate_no_reaped_exit.load(std::memory_order_relaxed) ||
      g_info_refused.load(std::memory_order_relaxed)) {
    return false;
  }
  static const bool keeps = ReleaseKeepsReapedExit();
  return keeps;
}

ScopedNoReapedExitForTesting::ScopedNoReapedExitForTesting(bool simulate) {
  g_simulate_no_reaped_exit.store(simulate);
}

ScopedNoReapedExitForTesting::~ScopedNoReapedExitForTesting() {
  g_simulate_no_reaped_exit.store(false);
}

ScopedRefusedPidfdInfoForTesting::ScopedRefusedPidfdInfoForTesting() {
  g_simulate_refused_info.store(true);
}

ScopedRefusedPidfdInfoForTesting::~ScopedRefusedPidfdInfoForTesting() {
  g_simulate_refused_info.store(false);
  g_info_refused.store(false);
}

// Where the kernel keeps the status of a reaped process, it is asked first: the caller (bmake)
// has reaped the process as a rule by the time its end is read, and then one ioctl answers
// where waitid would fail first. A zombie has no such status yet (the kernel keeps it at the
// reaping): waitid(WNOWAIT) reads it; a reaping between the two is caught by asking again.
PidfdExit ReadPidfdExit(int pidfd) {
  if (pidfd < 0) return PidfdExit();
  const bool kept = KernelKeepsReapedExit();
  if (kept) {
    if (PidfdExit exit = GetInfoExit(pidfd); exit.known) return exit;
  }
  PidfdExit exit;
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
             WEXITED | WNOHANG | WNOWAIT) == 0) {
    if (info.si_pid == 0) return exit;  // still running
    exit.known = true;
    if (info.si_code == CLD_EXITED) {
      exit.code = info.si_status;
    } else {
      exit.signal = info.si_status;  // CLD_KILLED, CLD_DUMPED
    }
    return exit;
  }
  // Reaped since the first look (or not this process's child): what the kernel kept.
  return kept && KernelKeepsReapedExit() ? GetInfoExit(pidfd) : exit;
}

}  // namespace preload_internal
}  // namespace filemon
