#include "filemon/backends/preload/proc_tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

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

// True if LineOf(pid) passes through `root`.
bool InLineOf(pid_t pid, pid_t root) {
  const std::vector<pid_t> line = LineOf(pid);
  return std::find(line.begin(), line.end(), root) != line.end();
}

TEST(LineOf, FollowsParentsUpToTheRoot) {
  Sleeper child;
  ASSERT_GT(child.pid, 0);
  const std::vector<pid_t> line = LineOf(child.pid);
  ASSERT_GE(line.size(), 3u);
  EXPECT_EQ(line[0], child.pid);
  EXPECT_EQ(line[1], getpid());
  EXPECT_EQ(line[2], getppid());
  EXPECT_FALSE(InLineOf(getpid(), child.pid));
}

TEST(LineOf, AProcessThatIsGoneIsAlone) {
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  waitpid(gone, nullptr, 0);
  EXPECT_EQ(LineOf(gone), std::vector<pid_t>{gone});
  EXPECT_FALSE(InLineOf(gone, getpid()));
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
