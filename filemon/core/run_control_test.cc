#include "filemon/core/run_control.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filemon/core/run_control_internal.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

uint64_t Bit(int signal) { return uint64_t{1} << (signal - 1); }

// A child that sleeps until a signal ends it.
pid_t StartSleeper() {
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  return pid;
}

// The signal that ended `pid` (0 if it exited).
int TermSignal(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

TEST(RunControl, SignalBeforeThePidIsHeldAndSentOnceItIsKnown) {
  RunControl control;
  control.Signal(SIGUSR1);
  pid_t pid = StartSleeper();
  RunControlInternal::CommandStarted(&control, pid);
  EXPECT_EQ(TermSignal(pid), SIGUSR1);
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, ProcessGroupSignalIsNotHeldNorSentAgainToTheCommand) {
  RunControl control;
  control.Signal(SIGUSR1, SignalOrigin::kProcessGroup);
  pid_t pid = StartSleeper();
  RunControlInternal::CommandStarted(&control, pid);
  control.Signal(SIGUSR2, SignalOrigin::kProcessGroup);
  control.Signal(SIGTERM);
  EXPECT_EQ(TermSignal(pid), SIGTERM);
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, SessionHangupReachesTheCommandThenItsGroupAtItsExit) {
  RunControl control;
  const int wake = RunControlInternal::WakeFd(&control);
  pid_t pid = StartSleeper();
  RunControlInternal::CommandStarted(&control, pid);
  control.Signal(SIGHUP, SignalOrigin::kSessionLeader);
  EXPECT_EQ(TermSignal(pid), SIGHUP);
  EXPECT_FALSE(Readable(wake));  // nothing for the others while the command runs
  RunControlInternal::CommandExited(&control);
  EXPECT_TRUE(Readable(wake));
  const TreeSignals signals = RunControlInternal::TakeTreeSignals(&control);
  EXPECT_EQ(signals.all, 0u);  // not a signal after the exit: the command had it
  EXPECT_EQ(signals.group, Bit(SIGHUP) | Bit(SIGCONT));
  EXPECT_EQ(signals.pgid, getpgrp());  // the sleeper's group, ours
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, SessionHangupAfterTheExitIsForTheWholeTree) {
  RunControl control;
  RunControlInternal::CommandStarted(&control, getpid());
  RunControlInternal::CommandExited(&control);
  control.Signal(SIGHUP, SignalOrigin::kSessionLeader);
  const TreeSignals signals = RunControlInternal::TakeTreeSignals(&control);
  EXPECT_EQ(signals.all, Bit(SIGHUP));
  EXPECT_EQ(signals.group, 0u);
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, AfterTheCommandExitedSignalsWaitForTheBackend) {
  RunControl control;
  const int wake = RunControlInternal::WakeFd(&control);
  ASSERT_GE(wake, 0);
  RunControlInternal::CommandStarted(&control, getpid());
  RunControlInternal::CommandExited(&control);
  EXPECT_FALSE(Readable(wake));
  control.Signal(SIGINT, SignalOrigin::kProcessGroup);  // regardless of its origin
  control.Signal(SIGTERM);
  EXPECT_TRUE(Readable(wake));
  uint64_t mask = RunControlInternal::TakeTreeSignals(&control).all;
  EXPECT_EQ(mask, Bit(SIGINT) | Bit(SIGTERM));
  EXPECT_EQ(RunControlInternal::FirstSignal(mask), SIGINT);
  EXPECT_FALSE(Readable(wake));
  EXPECT_EQ(RunControlInternal::TakeTreeSignals(&control).all, 0u);
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, CommandGoneBeforeTheBackendKnowsCountsAsExited) {
  RunControl control;
  pid_t pid = StartSleeper();
  kill(pid, SIGKILL);
  TermSignal(pid);  // reaped: the pid names no process now
  RunControlInternal::CommandStarted(&control, pid);
  control.Signal(SIGINT, SignalOrigin::kProcessGroup);
  EXPECT_EQ(RunControlInternal::TakeTreeSignals(&control).all, Bit(SIGINT));
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, ReusableForTheNextRun) {
  RunControl control;
  RunControlInternal::CommandStarted(&control, getpid());
  RunControlInternal::CommandExited(&control);
  control.Signal(SIGTERM);
  RunControlInternal::RunEnded(&control);  // drops what the finished run did not take
  EXPECT_EQ(RunControlInternal::TakeTreeSignals(&control).all, 0u);
  control.Signal(SIGUSR2);  // between runs: held for the next command
  pid_t pid = StartSleeper();
  RunControlInternal::CommandStarted(&control, pid);
  EXPECT_EQ(TermSignal(pid), SIGUSR2);
  RunControlInternal::RunEnded(&control);
}

TEST(RunControl, NullControlIsANoOp) {
  RunControlInternal::CommandStarted(nullptr, 1);
  RunControlInternal::CommandExited(nullptr);
  EXPECT_EQ(RunControlInternal::WakeFd(nullptr), -1);
  EXPECT_EQ(RunControlInternal::TakeTreeSignals(nullptr).all, 0u);
  RunControlInternal::RunEnded(nullptr);
  EXPECT_EQ(RunControlInternal::FirstSignal(0), 0);
}

TEST(RunControl, OutOfRangeSignalsAreIgnored) {
  RunControl control;
  RunControlInternal::CommandStarted(&control, getpid());
  RunControlInternal::CommandExited(&control);
  control.Signal(0);
  control.Signal(65);
  control.Signal(-1);
  EXPECT_EQ(RunControlInternal::TakeTreeSignals(&control).all, 0u);
  control.Signal(64);
  EXPECT_EQ(RunControlInternal::TakeTreeSignals(&control).all, Bit(64));
  RunControlInternal::RunEnded(&control);
}

}  // namespace
}  // namespace filemon
