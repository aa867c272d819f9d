#include "filemon/backends/per_process.h"

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

}  // namespace
}  // namespace filemon
