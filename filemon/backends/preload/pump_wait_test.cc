#include "filemon/backends/preload/pump_wait.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

constexpr size_t kCapacity = 1 << 20;

TEST(NextTickMs, NothingCameWaitsTheLongest) { EXPECT_EQ(NextTickMs(0, kCapacity, 5, 64), 64); }

TEST(NextTickMs, AQuarterFullPipeIsDrainedAgainAtOnce) {
  EXPECT_EQ(NextTickMs(kCapacity / 4, kCapacity, 5, 64), 0);
  EXPECT_EQ(NextTickMs(kCapacity, kCapacity, 5, 64), 0);
}

TEST(NextTickMs, AimsAtAnEighthOfThePipePerTick) {
  // kCapacity/16 in 10 ms: an eighth takes 20 ms.
  EXPECT_EQ(NextTickMs(kCapacity / 16, kCapacity, 10, 64), 20);
}

TEST(NextTickMs, StaysBetweenOneAndTheCeiling) {
  EXPECT_EQ(NextTickMs(kCapacity / 5, kCapacity, 0.01, 64), 1);
  EXPECT_EQ(NextTickMs(1, kCapacity, 10, 64), 64);
}

TEST(PollWait, DrainsAgainWithoutPollingWhileMessagesCome) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  PollWait wait(p[0], nullptr);
  wait.Drained(3, 0);
  std::vector<pollfd> fds;
  absl::StatusOr<WaitStrategy::Wakeup> woke = wait.Wait(&fds);
  ASSERT_TRUE(woke.ok());
  EXPECT_EQ(woke->drain, WaitStrategy::Drain::kAll);
  EXPECT_TRUE(fds.empty());  // no poll
  close(p[0]);
  close(p[1]);
}

TEST(PollWait, AReadablePipeAsksForADrain) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "x", 1), 1);
  PollWait wait(p[0], [] { return false; });
  std::vector<pollfd> fds;
  absl::StatusOr<WaitStrategy::Wakeup> woke = wait.Wait(&fds);
  ASSERT_TRUE(woke.ok());
  EXPECT_EQ(woke->drain, WaitStrategy::Drain::kAll);
  EXPECT_FALSE(woke->watched_exited);
  close(p[0]);
  close(p[1]);
}

TEST(TickWait, TheWatchedProcessExitingAsksForAFullDrainAndTheEnd) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  close(p[1]);  // the read end is readable (EOF), as a pidfd is once its process exited
  TickWait wait{OwnedFd(p[0]), kCapacity};
  std::vector<pollfd> fds = {{-1, POLLIN, 0}};
  absl::StatusOr<WaitStrategy::Wakeup> woke = wait.Wait(&fds);
  ASSERT_TRUE(woke.ok());
  EXPECT_TRUE(woke->watched_exited);
  EXPECT_EQ(woke->drain, WaitStrategy::Drain::kAll);
}

TEST(TickWait, ATickWithNothingReadyDrainsThePipeOnly) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  TickWait wait{OwnedFd(p[0]), kCapacity};
  std::vector<pollfd> fds = {{-1, POLLIN, 0}};
  absl::StatusOr<WaitStrategy::Wakeup> woke = wait.Wait(&fds);
  ASSERT_TRUE(woke.ok());
  EXPECT_FALSE(woke->watched_exited);
  EXPECT_EQ(woke->drain, WaitStrategy::Drain::kPipe);
  close(p[1]);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
