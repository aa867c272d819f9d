#include "filemon/core/owned_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "gtest/gtest.h"

namespace filemon {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

int OpenNull() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

TEST(OwnedFd, ClosesWhenDestroyed) {
  int fd;
  {
    OwnedFd owned(OpenNull());
    fd = owned.get();
    ASSERT_TRUE(IsOpen(fd));
  }
  EXPECT_FALSE(IsOpen(fd));
}

TEST(OwnedFd, MoveTransfersOwnershipOnce) {
  OwnedFd first(OpenNull());
  const int fd = first.get();
  OwnedFd second(std::move(first));
  EXPECT_FALSE(first.valid());
  EXPECT_EQ(second.get(), fd);
  OwnedFd third;
  third = std::move(second);
  EXPECT_FALSE(second.valid());
  EXPECT_TRUE(IsOpen(fd));
  third.reset();
  EXPECT_FALSE(IsOpen(fd));
}

TEST(OwnedFd, MoveAssignmentClosesTheOldDescriptor) {
  OwnedFd target(OpenNull());
  const int old_fd = target.get();
  OwnedFd source(OpenNull());
  const int new_fd = source.get();
  target = std::move(source);
  EXPECT_FALSE(IsOpen(old_fd));
  EXPECT_TRUE(IsOpen(new_fd));
}

TEST(OwnedFd, ReleaseDoesNotClose) {
  OwnedFd owned(OpenNull());
  const int fd = owned.release();
  EXPECT_FALSE(owned.valid());
  EXPECT_TRUE(IsOpen(fd));
  close(fd);
}

TEST(OwnedFd, CloseReportsTheResultAndEmpties) {
  OwnedFd owned(OpenNull());
  const int fd = owned.get();
  EXPECT_EQ(owned.Close(), 0);
  EXPECT_FALSE(owned.valid());
  EXPECT_FALSE(IsOpen(fd));
  EXPECT_EQ(owned.Close(), 0);  // nothing owned
}

}  // namespace
}  // namespace filemon
