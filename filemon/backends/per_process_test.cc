#include "filemon/backends/per_process.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

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
