#include "filemon/backends/per_process.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace filemon {
namespace per_process_internal {
extern void (*g_page_setup_hook)();
}  // namespace per_process_internal
namespace {

// The page's set-up is paused here while another thread forks.
std::atomic<int> g_setup_stage{0};  // 1: the set-up is paused; 2: the fork is done

void PauseSetUp() {
  g_setup_stage.store(1);
  while (g_setup_stage.load() != 2) usleep(1000);
}

// First in this file: the process's first ThisProcessId. A thread forks while that first call
// sets the page up; the child's own first call must not wait for the parent's set-up, which
// never ends there (a C++ init guard copied held would hang it).
TEST(ThisProcessId, AChildForkedDuringTheFirstCallAsksForItself) {
  per_process_internal::g_page_setup_hook = PauseSetUp;
  pid_t first = 0;
  std::thread setup([&] { first = ThisProcessId(); });
  for (int i = 0; i < 5000 && g_setup_stage.load() != 1; ++i) usleep(1000);
  if (g_setup_stage.load() != 1) {
    setup.join();
    per_process_internal::g_page_setup_hook = nullptr;
    GTEST_SKIP() << "the page was set up before this test (not the process's first call)";
  }
  const pid_t child = fork();
  if (child == 0) {
    alarm(5);  // a child stuck on the parent's set-up ends here, killed
    per_process_internal::g_page_setup_hook = nullptr;  // the child's own set-up runs through
    const pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
    _exit(ThisProcessId() == self && ThisProcessId() == self ? 0 : 1);
  }
  g_setup_stage.store(2);
  setup.join();
  per_process_internal::g_page_setup_hook = nullptr;
  ASSERT_GE(child, 0);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child forked during the set-up did not learn its pid: " << status;
  EXPECT_EQ(first, getpid());
  EXPECT_EQ(ThisProcessId(), getpid());
}

struct Thing {
  pid_t maker;
};

absl::StatusOr<Thing*> MakeThing(int* made) {
  ++*made;
  return new Thing{getpid()};
}

TEST(PerProcess, OneValueForTheProcess) {
  static PerProcess<Thing> things;
  int made = 0;
  absl::StatusOr<Thing*> first = things.Get([&] { return MakeThing(&made); });
  absl::StatusOr<Thing*> second = things.Get([&] { return MakeThing(&made); });
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(made, 1);
}

TEST(PerProcess, AFailureIsTriedAgain) {
  static PerProcess<Thing> things;
  int made = 0;
  absl::StatusOr<Thing*> failed =
      things.Get([]() -> absl::StatusOr<Thing*> { return absl::InternalError("no"); });
  EXPECT_FALSE(failed.ok());
  absl::StatusOr<Thing*> then = things.Get([&] { return MakeThing(&made); });
  ASSERT_TRUE(then.ok());
  EXPECT_EQ(made, 1);
}

// A forked child gets a value of its own, made in the child; the parent keeps its own.
TEST(PerProcess, AForkedChildMakesItsOwn) {
  static PerProcess<Thing> things;
  int made = 0;
  absl::StatusOr<Thing*> parent = things.Get([&] { return MakeThing(&made); });
  ASSERT_TRUE(parent.ok());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<Thing*> own = things.Get([&] { return MakeThing(&made); });
    const bool ok = own.ok() && *own != *parent && (*own)->maker == getpid() && made == 2;
    _exit(ok ? 0 : 1);
  }
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  absl::StatusOr<Thing*> again = things.Get([&] { return MakeThing(&made); });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *parent);
  EXPECT_EQ(made, 1);
}

TEST(ThisProcessId, IsThePid) {
  EXPECT_EQ(ThisProcessId(), getpid());
  EXPECT_EQ(ThisProcessId(), getpid());  // from the page now
}

// A child that fork made, by the C library or by a raw system call that runs no atfork
// handler, is told its own pid, not the one its parent kept.
TEST(ThisProcessId, AForkedChildIsToldItsOwnPid) {
  ASSERT_EQ(ThisProcessId(), getpid());  // the parent's is kept
  for (const bool raw : {false, true}) {
    SCOPED_TRACE(raw ? "raw fork" : "fork");
    const pid_t child = raw ? static_cast<pid_t>(syscall(SYS_fork)) : fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
      _exit(ThisProcessId() == self && ThisProcessId() == self ? 0 : 1);
    }
    int status = -1;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_EQ(ThisProcessId(), getpid());
  }
}

}  // namespace
}  // namespace filemon
