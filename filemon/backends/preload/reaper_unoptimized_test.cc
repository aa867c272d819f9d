// The reaper built without optimization (-O0, as a consumer's default `fastbuild` compiles
// filemon): it starts the command and outlives it. The reaper starts the command with a vfork,
// and the vfork's child runs on the reaper's stack; whether the child's frames overwrite what
// the reaper returns through after the vfork can depend on how the compiler lays out and
// inlines the frames, so this target compiles reaper.cc itself with -O0 (see BUILD.bazel).

#include <sys/wait.h>

#include "absl/status/statusor.h"
#include "filemon/backends/preload/reaper.h"
#include "filemon/backends/preload/reaper_testing.h"
#include "filemon/core/backend.h"
#include "filemon/core/test_child.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

TEST(ReaperUnoptimized, StartsTheCommandAndExitsAfterIt) {
  TestLaunch test({"/bin/true"});
  ASSERT_TRUE(test.reaper_end.valid());
  absl::StatusOr<Reaper> reaper = Reaper::Start(test.launch);
  ASSERT_TRUE(reaper.ok()) << reaper.status();
  int status = 0;
  ASSERT_EQ(WaitPid(reaper->pid(), &status), reaper->pid());
  EXPECT_FALSE(WIFSIGNALED(status)) << "the reaper died by signal " << WTERMSIG(status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
