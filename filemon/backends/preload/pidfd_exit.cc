#include "filemon/backends/preload/pidfd_exit.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

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

}  // namespace

PidfdExit ReadPidfdExit(int pidfd) {
  PidfdExit exit;
  if (pidfd < 0) return exit;
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
             WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid != 0) {
    exit.known = true;
    if (info.si_code == CLD_EXITED) {
      exit.code = info.si_status;
    } else {
      exit.signal = info.si_status;  // CLD_KILLED, CLD_DUMPED
    }
    return exit;
  }
  // Reaped already (or not this process's child): what the kernel kept, if it keeps it.
  PidfdInfo pidfd_info{};
  pidfd_info.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &pidfd_info) != 0 || !(pidfd_info.mask & kPidfdInfoExit)) {
    return exit;
  }
  return FromWaitStatus(pidfd_info.exit_code);
}

}  // namespace preload_internal
}  // namespace filemon
