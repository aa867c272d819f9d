#include "filemon/backends/preload/exec_probe_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "filemon/backends/preload/exec_probe.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
extern void (*g_after_claim_hook)();
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class ExecProbeCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = tmp != nullptr ? tmp : "/tmp";
    dynamic_ = Slurp("/bin/true");
    static_ = Slurp("filemon/backends/testing/static_open_bin");
    if (dynamic_.empty() || static_.empty()) GTEST_SKIP() << "no /bin/true or static_open_bin";
    ASSERT_EQ(ProbeExecutable("/bin/true").kind, ExecKind::kPreloadable);
  }

  // Writes `bytes` to `path` in place (same inode if it exists), mode 0755.
  static void Write(const std::string& path, const std::string& bytes) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
    chmod(path.c_str(), 0755);
  }

  // The probe of `path`, and whether the table answered it.
  static ExecKind Probe(const std::string& path, bool* remembered) {
    const uint64_t before = RememberedProbesForTesting();
    const ExecProbe probe = ProbeExecutableRemembered(path.c_str());
    *remembered = RememberedProbesForTesting() != before;
    EXPECT_EQ(std::string(probe.judged), path);
    return probe.kind;
  }

  std::string dir_, dynamic_, static_;
};

TEST_F(ExecProbeCacheTest, AnUnchangedProgramIsAnsweredFromTheTable) {
  const std::string path = dir_ + "/unchanged";
  Write(path, dynamic_);
  bool remembered = true;
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  EXPECT_FALSE(remembered);
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  EXPECT_TRUE(remembered);
}

// A remembered program rewritten in place as a static one (same inode), even with its old
// modification time put back, or replaced by another file, is probed again.
TEST_F(ExecProbeCacheTest, AChangedProgramIsProbedAgain) {
  const std::string path = dir_ + "/changed";
  Write(path, dynamic_);
  bool remembered = false;
  Probe(path, &remembered);
  ASSERT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  ASSERT_TRUE(remembered);
  struct stat before;
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  Write(path, static_);
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kStatic);
  EXPECT_FALSE(remembered);

  Write(path, dynamic_);
  Probe(path, &remembered);
  ASSERT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  ASSERT_TRUE(remembered);
  const std::string other = dir_ + "/changed.new";
  Write(other, static_);
  ASSERT_EQ(rename(other.c_str(), path.c_str()), 0);
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kStatic);
  EXPECT_FALSE(remembered);
}

// Only preloadable programs are remembered: a static program and a script are probed each time.
TEST_F(ExecProbeCacheTest, OnlyPreloadableProgramsAreRemembered) {
  const std::string program = dir_ + "/static";
  Write(program, static_);
  const std::string script = dir_ + "/script";
  Write(script, "#!/bin/true\n");
  for (int i = 0; i < 3; ++i) {
    bool remembered = true;
    EXPECT_EQ(Probe(program, &remembered), ExecKind::kStatic);
    EXPECT_FALSE(remembered);
    const ExecProbe probe = ProbeExecutableRemembered(script.c_str());
    EXPECT_EQ(probe.kind, ExecKind::kPreloadable);
    EXPECT_STREQ(probe.judged, "/bin/true");
  }
}

// After vfork the child fills the table of the parent it borrows; the parent finds the entry.
TEST_F(ExecProbeCacheTest, AVforkedChildFillsTheParentsTable) {
  const std::string path = dir_ + "/by_child";
  Write(path, dynamic_);
  const char* name = path.c_str();
  const pid_t child = vfork();
  if (child == 0) {
    _exit(ProbeExecutableRemembered(name).kind == ExecKind::kPreloadable ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  bool remembered = false;
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  EXPECT_TRUE(remembered);
}

// A vforked child killed while it fills an entry (after its claim, before its last store)
// leaves the entry to a later writer once the child is gone: the program is remembered again.
TEST_F(ExecProbeCacheTest, AWriterKilledMidWayLeavesTheEntryToTheNext) {
  const std::string path = dir_ + "/killed_writer";
  Write(path, dynamic_);
  const char* name = path.c_str();
  g_after_claim_hook = [] { kill(getpid(), SIGKILL); };
  const pid_t child = vfork();
  if (child == 0) {
    ProbeExecutableRemembered(name);
    _exit(0);
  }
  g_after_claim_hook = nullptr;
  ASSERT_GT(child, 0);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  bool remembered = true;
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  EXPECT_FALSE(remembered);
  EXPECT_EQ(Probe(path, &remembered), ExecKind::kPreloadable);
  EXPECT_TRUE(remembered) << "the killed writer's entry is never filled again";
}

// Threads probing at once, one of them changing its program between preloadable and static
// (each write a new file renamed into place), always get the answer of the file there.
TEST_F(ExecProbeCacheTest, ThreadsGetTheirOwnProgramsAnswers) {
  std::atomic<int> wrong{0};
  auto run = [&](int index) {
    const std::string path = dir_ + "/thread" + std::to_string(index);
    for (int round = 0; round < 200; ++round) {
      const bool dynamic = index == 0 || round % 3 != 0;
      const std::string next = path + ".next";
      Write(next, dynamic ? dynamic_ : static_);
      rename(next.c_str(), path.c_str());
      for (int i = 0; i < 3; ++i) {
        const ExecKind kind = ProbeExecutableRemembered(path.c_str()).kind;
        if (kind != (dynamic ? ExecKind::kPreloadable : ExecKind::kStatic)) ++wrong;
      }
    }
  };
  std::thread first(run, 0), second(run, 1), third(run, 2);
  first.join();
  second.join();
  third.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
