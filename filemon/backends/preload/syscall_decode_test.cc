// What the raw syscall(2) wrapper records for each call (syscall_decode.h), one row per number.

#include "filemon/backends/preload/syscall_decode.h"

#include <fcntl.h>
#include <sys/syscall.h>

#include <cstdint>
#include <string>

#include "filemon/backends/preload/wire_format.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

long P(const char* s) { return reinterpret_cast<long>(s); }

const char kA[] = "a";
const char kB[] = "b";

struct Row {
  const char* name;
  SyscallCall call;
  SyscallAction action;
  WireKind kind;
  int dirfd1;
  const char* path1;
  int dirfd2;
  const char* path2;
};

TEST(DecodeSyscall, PathCallsNameTheirRecordAndPaths) {
  const Row kRows[] = {
      {"rename",
       {SYS_rename, {P(kA), P(kB)}},
       SyscallAction::kTwoPaths,
       WireKind::kMove,
       AT_FDCWD,
       kA,
       AT_FDCWD,
       kB},
      {"renameat",
       {SYS_renameat, {3, P(kA), 4, P(kB)}},
       SyscallAction::kTwoPaths,
       WireKind::kMove,
       3,
       kA,
       4,
       kB},
      {"renameat2",
       {SYS_renameat2, {3, P(kA), 4, P(kB), 1}},
       SyscallAction::kTwoPaths,
       WireKind::kMove,
       3,
       kA,
       4,
       kB},
      {"link",
       {SYS_link, {P(kA), P(kB)}},
       SyscallAction::kTwoPaths,
       WireKind::kLink,
       AT_FDCWD,
       kA,
       AT_FDCWD,
       kB},
      {"linkat",
       {SYS_linkat, {5, P(kA), 6, P(kB), 0}},
       SyscallAction::kTwoPaths,
       WireKind::kLink,
       5,
       kA,
       6,
       kB},
      {"symlink",
       {SYS_symlink, {P(kA), P(kB)}},
       SyscallAction::kSymlink,
       WireKind::kLink,
       AT_FDCWD,
       kA,
       AT_FDCWD,
       kB},
      {"symlinkat",
       {SYS_symlinkat, {P(kA), 7, P(kB)}},
       SyscallAction::kSymlink,
       WireKind::kLink,
       AT_FDCWD,
       kA,
       7,
       kB},
      {"unlink",
       {SYS_unlink, {P(kA)}},
       SyscallAction::kOnePath,
       WireKind::kDelete,
       AT_FDCWD,
       kA,
       AT_FDCWD,
       nullptr},
      {"rmdir",
       {SYS_rmdir, {P(kA)}},
       SyscallAction::kOnePath,
       WireKind::kDelete,
       AT_FDCWD,
       kA,
       AT_FDCWD,
       nullptr},
      {"unlinkat",
       {SYS_unlinkat, {8, P(kA), AT_REMOVEDIR}},
       SyscallAction::kOnePath,
       WireKind::kDelete,
       8,
       kA,
       AT_FDCWD,
       nullptr},
      {"chdir",
       {SYS_chdir, {P(kA)}},
       SyscallAction::kOnePath,
       WireKind::kChdir,
       AT_FDCWD,
       kA,
       AT_FDCWD,
       nullptr},
      {"fchdir",
       {SYS_fchdir, {9}},
       SyscallAction::kFchdir,
       WireKind::kChdir,
       9,
       nullptr,
       AT_FDCWD,
       nullptr},
  };
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.name);
    const DecodedSyscall d = DecodeSyscall(row.call);
    EXPECT_EQ(d.action, row.action);
    EXPECT_EQ(d.kind, row.kind);
    EXPECT_EQ(d.dirfd1, row.dirfd1);
    EXPECT_EQ(d.path1, row.path1);
    EXPECT_EQ(d.dirfd2, row.dirfd2);
    EXPECT_EQ(d.path2, row.path2);
  }
}

TEST(DecodeSyscall, OpensCarryTheirFlagsAndWhetherTheyTakeADirectory) {
  DecodedSyscall d = DecodeSyscall({SYS_open, {P(kA), O_RDWR | O_APPEND}});
  EXPECT_EQ(d.action, SyscallAction::kOpen);
  EXPECT_EQ(d.dirfd1, AT_FDCWD);
  EXPECT_EQ(d.path1, kA);
  EXPECT_EQ(d.open_flags, O_RDWR | O_APPEND);
  EXPECT_FALSE(d.at);

  d = DecodeSyscall({SYS_creat, {P(kA), 0644}});
  EXPECT_EQ(d.action, SyscallAction::kOpen);
  EXPECT_EQ(d.open_flags, O_WRONLY | O_CREAT | O_TRUNC);
  EXPECT_FALSE(d.at);

  d = DecodeSyscall({SYS_openat, {3, P(kB), O_RDONLY}});
  EXPECT_EQ(d.action, SyscallAction::kOpen);
  EXPECT_EQ(d.dirfd1, 3);
  EXPECT_EQ(d.path1, kB);
  EXPECT_EQ(d.open_flags, O_RDONLY);
  EXPECT_TRUE(d.at);
  EXPECT_EQ(d.open_how, nullptr);
}

TEST(DecodeSyscall, Openat2TakesItsFlagsFromOpenHow) {
  const uint64_t how[3] = {O_WRONLY | O_CREAT, 0600, 0};  // flags, mode, resolve
  DecodedSyscall d = DecodeSyscall({SYS_openat2, {4, P(kA), reinterpret_cast<long>(how), 24}});
  EXPECT_EQ(d.action, SyscallAction::kOpen);
  EXPECT_EQ(d.dirfd1, 4);
  EXPECT_TRUE(d.at);
  ASSERT_EQ(d.open_how, how);
  EXPECT_EQ(OpenHowFlags(d.open_how), O_WRONLY | O_CREAT);
  // Without its struct the kernel refuses the call: nothing to record.
  d = DecodeSyscall({SYS_openat2, {4, P(kA), 0, 24}});
  EXPECT_EQ(d.action, SyscallAction::kPassThrough);
}

TEST(DecodeSyscall, ProcessCallsGoToTheirWrappers) {
  const struct {
    long nr;
    SyscallAction action;
  } kRows[] = {
      {SYS_execve, SyscallAction::kExecve},
      {SYS_execveat, SyscallAction::kExecveat},
      {SYS_exit_group, SyscallAction::kExitGroup},
      {SYS_close, SyscallAction::kClose},
      {SYS_fork, SyscallAction::kFork},
      {SYS_vfork, SyscallAction::kFork},
      {SYS_clone, SyscallAction::kClone},
      {SYS_clone3, SyscallAction::kClone3},
      {SYS_wait4, SyscallAction::kWait4},
  };
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.nr);
    EXPECT_EQ(DecodeSyscall({row.nr, {}}).action, row.action);
  }
}

TEST(DecodeSyscall, OtherCallsPassThrough) {
  for (long nr : {long{SYS_read}, long{SYS_write}, long{SYS_getpid}, long{SYS_stat}, long{SYS_exit},
                  long{-1}, long{100000}}) {
    SCOPED_TRACE(nr);
    EXPECT_EQ(DecodeSyscall({nr, {}}).action, SyscallAction::kPassThrough);
  }
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
