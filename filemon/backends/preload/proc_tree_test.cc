#include "filemon/backends/preload/proc_tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

TEST(ParentFromStat, ReadsTheFieldAfterTheName) {
  pid_t parent = 0;
  ASSERT_TRUE(ParentFromStat("42 (make) S 7 42 42 0 -1", &parent));
  EXPECT_EQ(parent, 7);
}

TEST(ParentFromStat, ANameWithParenthesesAndSpacesIsSkippedWhole) {
  pid_t parent = 0;
  ASSERT_TRUE(ParentFromStat("42 (a) S 99 (b) R 13 1 1", &parent));
  EXPECT_EQ(parent, 13);
}

TEST(ParentFromStat, MalformedTextIsRefused) {
  pid_t parent = 5;
  EXPECT_FALSE(ParentFromStat("42 make S 7", &parent));
  EXPECT_FALSE(ParentFromStat("42 (make) S", &parent));
  EXPECT_FALSE(ParentFromStat("", &parent));
  EXPECT_EQ(parent, 5);
}

// A child that waits for SIGKILL; reaped by the destructor.
struct Sleeper {
  pid_t pid = fork();
  Sleeper() {
    if (pid == 0) {
      pause();
      _exit(0);
    }
  }
  ~Sleeper() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

TEST(DescendsFrom, FollowsParentsUpToTheRoot) {
  Sleeper child;
  ASSERT_GT(child.pid, 0);
  EXPECT_TRUE(DescendsFrom(child.pid, getpid()));
  EXPECT_TRUE(DescendsFrom(child.pid, child.pid));
  EXPECT_TRUE(DescendsFrom(getpid(), getppid()));
  EXPECT_FALSE(DescendsFrom(getpid(), child.pid));
}

TEST(DescendsFrom, AProcessThatIsGoneDescendsFromNothing) {
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  waitpid(gone, nullptr, 0);
  EXPECT_FALSE(DescendsFrom(gone, getpid()));
}

TEST(Descendants, ListsChildrenOfTheRootOnly) {
  Sleeper first, second;
  ASSERT_GT(first.pid, 0);
  ASSERT_GT(second.pid, 0);
  const std::vector<pid_t> mine = Descendants(getpid());
  EXPECT_NE(std::find(mine.begin(), mine.end(), first.pid), mine.end());
  EXPECT_NE(std::find(mine.begin(), mine.end(), second.pid), mine.end());
  EXPECT_EQ(std::find(mine.begin(), mine.end(), getpid()), mine.end());
  EXPECT_TRUE(Descendants(first.pid).empty());
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
