#include "filemon/backends/preload/pidfd_exit.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// A child that exits with `code` (or is killed by `signal`), its pidfd, and a wait for its end
// that does not reap it.
struct Child {
  explicit Child(int code, int signal = 0) {
    pid = fork();
    if (pid == 0) {
      if (signal != 0) raise(signal);
      _exit(code);
    }
    pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    siginfo_t info;
    waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
  }
  ~Child() {
    if (pidfd >= 0) close(pidfd);
    waitpid(pid, nullptr, WNOHANG);
  }
  pid_t pid;
  int pidfd;
};

TEST(PidfdExit, AnExitedChildIsReadWithoutReapingIt) {
  Child child(3);
  ASSERT_GE(child.pidfd, 0);
  PidfdExit exit = ReadPidfdExit(child.pidfd);
  EXPECT_TRUE(exit.known);
  EXPECT_EQ(exit.code, 3);
  EXPECT_EQ(exit.signal, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, WNOHANG), child.pid);  // still there to reap
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(PidfdExit, AKilledChildSaysItsSignal) {
  Child child(0, SIGTERM);
  PidfdExit exit = ReadPidfdExit(child.pidfd);
  EXPECT_TRUE(exit.known);
  EXPECT_EQ(exit.signal, SIGTERM);
}

TEST(PidfdExit, AReapedChildIsReadWhereTheKernelKeepsIt) {
  Child child(7);
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  PidfdExit exit = ReadPidfdExit(child.pidfd);
  if (!exit.known) GTEST_SKIP() << "this kernel keeps no exit status with a pidfd (Linux < 6.15)";
  EXPECT_EQ(exit.code, 7);
  EXPECT_EQ(exit.signal, 0);
}

// The release check agrees with what a reaped child's pidfd says, and asking it leaves no child
// behind (a check that made a child of its own, with no exit signal, would: waitpid(-1) alone
// never sees such a child, so __WALL).
TEST(PidfdExit, TheReleaseCheckAgreesWithAReapedChild) {
  Child child(5);
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  EXPECT_EQ(KernelKeepsReapedExit(), ReadPidfdExit(child.pidfd).known);
  siginfo_t left{};
  const int waited = waitid(P_ALL, 0, &left, WEXITED | WNOHANG | __WALL);
  EXPECT_TRUE(waited == -1 && errno == ECHILD) << "child " << left.si_pid << " left behind";
}

TEST(PidfdExit, TheSimulatedOldKernelKeepsNoReapedStatus) {
  ScopedNoReapedExitForTesting simulated(true);
  Child child(9);
  EXPECT_EQ(ReadPidfdExit(child.pidfd).code, 9);  // before the reaping: known still
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  EXPECT_FALSE(ReadPidfdExit(child.pidfd).known);
  EXPECT_FALSE(KernelKeepsReapedExit());
}

// A test that fails inside the simulation's scope leaves the next tests the real kernel.
TEST(PidfdExit, TheSimulationEndsWithItsScope) {
  const bool keeps = KernelKeepsReapedExit();
  {
    ScopedNoReapedExitForTesting simulated(true);
    EXPECT_FALSE(KernelKeepsReapedExit());
  }
  EXPECT_EQ(KernelKeepsReapedExit(), keeps);
}

// A kernel whose release says 6.15+ but that refuses PIDFD_GET_INFO (gVisor, a seccomp
// filter): the first refusal turns KernelKeepsReapedExit off, so that callers read the status
// before the reaping from then on; a zombie's status is still read (waitid).
TEST(PidfdExit, ARefusedInfoIoctlTurnsTheKeptStatusOff) {
  const bool keeps = KernelKeepsReapedExit();
  {
    ScopedRefusedPidfdInfoForTesting refused;
    Child zombie(4);
    EXPECT_EQ(ReadPidfdExit(zombie.pidfd).code, 4);
    Child child(6);
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    EXPECT_FALSE(ReadPidfdExit(child.pidfd).known);
    EXPECT_FALSE(KernelKeepsReapedExit()) << "still trusted after the ioctl was refused";
  }
  EXPECT_EQ(KernelKeepsReapedExit(), keeps);
}

TEST(PidfdExit, ARunningProcessIsNotKnown) {
  const int self = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  ASSERT_GE(self, 0);
  EXPECT_FALSE(ReadPidfdExit(self).known);
  close(self);
  EXPECT_FALSE(ReadPidfdExit(-1).known);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
