#include "filemon/backends/preload/launch_environment.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "filemon/backends/preload/launch_protocol.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

using Env = std::vector<std::string>;

TEST(BuildLaunchEnvironment, AddsOurVariablesAfterTheCallersInProtocolOrder) {
  LaunchSettings settings;
  settings.library = "/lib/libfilemon_preload.so";
  settings.socket_fd = 1000;
  settings.pipe_fd = 1001;
  settings.socket_name = "filemon-preload-1-ab";
  settings.locale_shm_path = "/proc/1/fd/7";
  settings.options = kOptionAbsolutePaths | kOptionAuto;
  settings.helper = "/lib/filemon_preload_helper";
  EXPECT_EQ(BuildLaunchEnvironment({"HOME=/root", "PATH=/bin"}, settings),
            (Env{"HOME=/root", "PATH=/bin", "LD_PRELOAD=/lib/libfilemon_preload.so",
                 "FILEMON_PRELOAD_FD=1000", "FILEMON_PRELOAD_LOCALE_SHM=/proc/1/fd/7",
                 "FILEMON_PRELOAD_PIPE=1001", "FILEMON_PRELOAD_SOCKET=filemon-preload-1-ab",
                 "FILEMON_PRELOAD_OPTIONS=3", "FILEMON_PRELOAD_HELPER=/lib/filemon_preload_helper",
                 "FILEMON_PRELOAD_PID=0000000000"}));
}

TEST(BuildLaunchEnvironment, LeavesOutWhatIsNotThere) {
  LaunchSettings settings;
  settings.library = "/l.so";
  settings.socket_fd = 9;
  EXPECT_EQ(BuildLaunchEnvironment({}, settings),
            (Env{"LD_PRELOAD=/l.so", "FILEMON_PRELOAD_FD=9", "FILEMON_PRELOAD_PID=0000000000"}));
}

TEST(BuildLaunchEnvironment, DropsStaleVariablesAndKeepsTheUsersPreloadsAfterOurs) {
  LaunchSettings settings;
  settings.library = "/l.so";
  settings.socket_fd = 9;
  EXPECT_EQ(BuildLaunchEnvironment({"FILEMON_PRELOAD_FD=3", "LD_PRELOAD=/a.so:/b.so",
                                    "FILEMON_PRELOAD_PID=17", "X=FILEMON_PRELOAD_FD"},
                                   settings),
            (Env{"X=FILEMON_PRELOAD_FD", "LD_PRELOAD=/l.so:/a.so:/b.so", "FILEMON_PRELOAD_FD=9",
                 "FILEMON_PRELOAD_PID=0000000000"}));
}

TEST(ExecArrays, TerminatesBothArraysAndFillsInThePid) {
  LaunchSettings settings;
  settings.library = "/l.so";
  settings.socket_fd = 9;
  ExecArrays exec({"cc", "-c"}, BuildLaunchEnvironment({"A=1"}, settings));
  EXPECT_STREQ(exec.argv()[0], "cc");
  EXPECT_STREQ(exec.argv()[1], "-c");
  EXPECT_EQ(exec.argv()[2], nullptr);
  exec.SetPid(4194304);
  EXPECT_STREQ(exec.envp()[0], "A=1");
  EXPECT_STREQ(exec.envp()[3], "FILEMON_PRELOAD_PID=0004194304");
  EXPECT_EQ(exec.envp()[4], nullptr);
}

TEST(ExecArrays, WithoutThePlaceholderSetPidChangesNothing) {
  ExecArrays exec({"true"}, {"A=1"});
  exec.SetPid(42);
  EXPECT_STREQ(exec.envp()[0], "A=1");
}

TEST(CreateLocaleShm, GivesAZeroFilledFileOfTheProtocolsSize) {
  std::string path;
  OwnedFd shm = CreateLocaleShm(&path);
  if (!shm.valid()) GTEST_SKIP() << "memfd_create refused here";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(static_cast<size_t>(st.st_size), kLocaleShmBytes);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
