#include "filemon/backends/preload/pidfd_exit.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "filemon/backends/preload/raw_syscall.h"

#ifndef P_PIDFD  // glibc before 2.36
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD  // glibc before 2.31
#define CLONE_PIDFD 0x00001000
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

// The status PIDFD_GET_INFO gives for the process of `pidfd`, once it has exited.
PidfdExit GetInfoExit(int pidfd) {
  PidfdInfo pidfd_info{};
  pidfd_info.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &pidfd_info) != 0 || !(pidfd_info.mask & kPidfdInfoExit)) {
    return PidfdExit();
  }
  return FromWaitStatus(pidfd_info.exit_code);
}

// A child made by a fork-like clone with no exit signal and a pidfd, which exits with a known
// code at once (a raw system call: nothing else runs in it); reaped, then asked.
bool ProbeReapedExit() {
  constexpr int kCode = 42;
  int pidfd = -1;
  const long pid = RawSyscall6(SYS_clone, CLONE_PIDFD, 0, reinterpret_cast<long>(&pidfd), 0, 0, 0);
  if (pid == 0) RawSyscall1(SYS_exit_group, kCode);
  if (pid < 0) return false;
  int waited = -1;
  int wait_errno = EINVAL;
  if (pidfd >= 0) {
    siginfo_t info{};
    do {
      waited =
          waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | __WALL);
    } while (waited != 0 && errno == EINTR);
    wait_errno = waited == 0 ? 0 : errno;
  }
  // No pidfd (CLONE_PIDFD ignored: Linux < 5.2) or no waitid(P_PIDFD) (EINVAL: < 5.4): reaped by
  // its pid, or it stays a zombie for the process's life (it sends no SIGCHLD, so a caller's
  // waitpid(-1) never reaps it). ECHILD: a caller's waitid(__WALL) reaped it, and the pid may
  // be another child's already.
  if (waited != 0 && wait_errno != ECHILD) {
    int status;
    while (waitpid(static_cast<pid_t>(pid), &status, __WALL) < 0 && errno == EINTR) {
    }
  }
  if (pidfd < 0) return false;  // older than any kernel that keeps the status
  // Reaped here, or by a caller's waitid(__WALL): asked either way.
  const PidfdExit exit = GetInfoExit(pidfd);
  close(pidfd);
  return exit.known && exit.code == kCode;
}

}  // namespace

bool KernelKeepsReapedExit() {
  if (g_simulate_no_reaped_exit.load(std::memory_order_relaxed)) return false;
  static const bool keeps = ProbeReapedExit();
  return keeps;
}

void SimulateNoReapedExitForTesting(bool simulate) { g_simulate_no_reaped_exit.store(simulate); }

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
  if (g_simulate_no_reaped_exit.load(std::memory_order_relaxed)) return exit;
  return GetInfoExit(pidfd);
}

}  // namespace preload_internal
}  // namespace filemon
