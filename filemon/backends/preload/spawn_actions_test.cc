// posix_spawn's file actions read from glibc's own structure and encoded for the child
// (spawn_actions.h): the layout the interposer assumes is checked against the libc it runs on.

#include "filemon/backends/preload/spawn_actions.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/wire_format.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

class SpawnActionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(posix_spawn_file_actions_init(&actions_), 0); }
  void TearDown() override { posix_spawn_file_actions_destroy(&actions_); }

  // What ForEachSpawnAction reports, as "kind:path" (fd for an fchdir) joined by spaces.
  std::string Visited() const {
    std::string out;
    ForEachSpawnAction(&actions_, [&](char kind, const char* path, int fd) {
      if (!out.empty()) out += ' ';
      out += kind;
      out += ':';
      out += path != nullptr ? std::string(path) : "fd" + std::to_string(fd);
    });
    return out;
  }

  // The encoded actions, decoded again, in Visited()'s form.
  std::string EncodedThenDecoded() const {
    char text[4096];
    ByteAppender encoder(text, sizeof(text) - 1);
    EncodeSpawnActions(&actions_, &encoder);
    EXPECT_FALSE(encoder.overflow());
    text[encoder.size()] = '\0';
    std::string out;
    EXPECT_TRUE(DecodeSpawnActions(text, [&](char kind, const char* path, size_t size) {
      if (!out.empty()) out += ' ';
      out += kind;
      out += ':';
      out.append(path, size);
    }));
    return out;
  }

  posix_spawn_file_actions_t actions_;
};

TEST_F(SpawnActionsTest, OpensFollowTheOpenRuleAndChdirsAreKept) {
  ASSERT_EQ(posix_spawn_file_actions_addopen(&actions_, 3, "/in", O_RDONLY, 0), 0);
  ASSERT_EQ(posix_spawn_file_actions_addclose(&actions_, 7), 0);
  ASSERT_EQ(posix_spawn_file_actions_addopen(&actions_, 4, "/both", O_RDWR | O_CREAT, 0644), 0);
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&actions_, 4, 1), 0);
  ASSERT_EQ(posix_spawn_file_actions_addopen(&actions_, 5, "/out", O_WRONLY | O_TRUNC, 0), 0);
  ASSERT_EQ(posix_spawn_file_actions_addchdir_np(&actions_, "sub/dir"), 0);
  ASSERT_EQ(posix_spawn_file_actions_addfchdir_np(&actions_, 9), 0);
  EXPECT_EQ(Visited(), "R:/in R:/both W:/both W:/out C:sub/dir c:fd9");
}

TEST_F(SpawnActionsTest, NoActionsVisitNothing) {
  EXPECT_EQ(Visited(), "");
  ForEachSpawnAction(nullptr, [](char, const char*, int) { ADD_FAILURE(); });
  ASSERT_EQ(posix_spawn_file_actions_addclose(&actions_, 3), 0);
  EXPECT_EQ(Visited(), "");
}

TEST_F(SpawnActionsTest, EncodingResolvesAnFchdirToItsDirectory) {
  const int dir = open("/usr", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  ASSERT_EQ(posix_spawn_file_actions_addopen(&actions_, 3, "a b:c", O_RDONLY, 0), 0);
  ASSERT_EQ(posix_spawn_file_actions_addfchdir_np(&actions_, dir), 0);
  ASSERT_EQ(posix_spawn_file_actions_addchdir_np(&actions_, "/tmp"), 0);
  EXPECT_EQ(EncodedThenDecoded(), "R:a b:c c:/usr C:/tmp");
  close(dir);
}

TEST_F(SpawnActionsTest, EncodingLeavesOutAnFchdirOfNoDescriptor) {
  ASSERT_EQ(posix_spawn_file_actions_addfchdir_np(&actions_, 1000), 0);
  ASSERT_EQ(posix_spawn_file_actions_addopen(&actions_, 3, "/in", O_RDONLY, 0), 0);
  EXPECT_EQ(EncodedThenDecoded(), "R:/in");
}

TEST_F(SpawnActionsTest, EncodingThatOverflowsSaysSo) {
  const std::string long_path(200, 'x');
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(posix_spawn_file_actions_addopen(&actions_, 3, long_path.c_str(), O_RDONLY, 0), 0);
  }
  char text[1024];
  ByteAppender encoder(text, sizeof(text) - 1);
  EncodeSpawnActions(&actions_, &encoder);
  EXPECT_TRUE(encoder.overflow());
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
