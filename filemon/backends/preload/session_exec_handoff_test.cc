#include "filemon/backends/preload/session_exec_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SessionExecHandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = tmp != nullptr ? tmp : "/tmp";
    out_ = dir_ + "/handoff.out";
    unlink(out_.c_str());
    // A stand-in for auto's helper: says how it was called and whether LD_PRELOAD reached it.
    helper_ = dir_ + "/fake_helper";
    std::ofstream script(helper_);
    script << "#!/bin/sh\necho \"helper: $*\" > " << out_ << "\necho \"LD_PRELOAD=$LD_PRELOAD\" >> "
           << out_ << "\n";
    script.close();
    chmod(helper_.c_str(), 0755);
    static_program_ = "filemon/backends/testing/static_open_bin";
    if (access(static_program_.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << static_program_;
  }

  // vforks a child that arms the hand-off, makes system calls of the caller's (dup2: ones the
  // handler makes for it; `out_fd` onto 1 if set), blocks SIGUSR1, then execs `path`; returns
  // its wait status.
  int Run(const char* path, char* const* argv, int out_fd = -1) {
    char ld_preload[] = "LD_PRELOAD=/nonexistent/libpreload.so";
    char* envp[] = {ld_preload, nullptr};
    const char* helper = helper_.c_str();
    pid_t pid = vfork();
    if (pid == 0) {
      if (ArmExecHandoff({helper, nullptr}) != 0) _exit(120);
      if (dup2(2, 9) != 9) _exit(121);
      if (out_fd >= 0 && dup2(out_fd, 1) != 1) _exit(122);
      sigset_t usr1;
      sigemptyset(&usr1);
      sigaddset(&usr1, SIGUSR1);
      sigprocmask(SIG_BLOCK, &usr1, nullptr);
      execve(path, argv, envp);
      _exit(127);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return status;
  }

  std::string dir_, out_, helper_, static_program_;
};

TEST_F(SessionExecHandoffTest, AStaticProgramIsHandedToTheHelperWithoutLdPreload) {
  char arg0[] = "static-name";
  char arg1[] = "an argument";
  char* argv[] = {arg0, arg1, nullptr};
  const int status = Run(static_program_.c_str(), argv);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadFile(out_),
            "helper: " + static_program_ + " -- static-name an argument\nLD_PRELOAD=\n");
}

// The helper's argv is built as the interposer's exec wrappers build it (exec_argv.h), with no
// cap of its own on the arguments.
TEST_F(SessionExecHandoffTest, AStaticProgramWithManyArgumentsIsHandedToTheHelper) {
  std::vector<std::string> strings(5000, "x");
  strings[0] = "static-name";
  strings.back() = "last";
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int status = Run(static_program_.c_str(), argv.data());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string out = ReadFile(out_);
  EXPECT_EQ(out.rfind("helper: " + static_program_ + " -- static-name x x ", 0), 0u) << out;
  EXPECT_NE(out.find(" x last\nLD_PRELOAD=\n"), std::string::npos) << out.substr(0, 200);
  EXPECT_EQ(std::count(out.begin(), out.end(), 'x'), 4998);
}

// Gives one smaller environment: {"SMALL=1"}.
class OneFallback : public ExecFallbacks {
 public:
  size_t Room(char* const*) const override { return 2; }
  bool Fill(int step, char* const*, const char** out) const override {
    if (step != 0) return false;
    out[0] = "SMALL=1";
    out[1] = nullptr;
    return true;
  }
};

// An exec the kernel refuses with E2BIG (an entry over its 128 KiB limit on one string) is
// made again with the fallback's environment.
TEST_F(SessionExecHandoffTest, AnExecRefusedWithE2bigIsTriedWithTheFallback) {
  std::string huge = "HUGE=" + std::string(200 * 1024, 'x');
  char* envp[] = {huge.data(), nullptr};
  const std::string script = "echo \"$SMALL ${HUGE:+huge}\" > " + out_;
  char sh[] = "sh";
  char dash_c[] = "-c";
  char* argv[] = {sh, dash_c, const_cast<char*>(script.c_str()), nullptr};
  const OneFallback fallback;
  pid_t pid = vfork();
  if (pid == 0) {
    if (ArmExecHandoff({nullptr, &fallback}) != 0) _exit(120);
    execve("/bin/sh", argv, envp);
    _exit(errno == E2BIG ? 121 : 127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadFile(out_), "1 \n");
}

TEST_F(SessionExecHandoffTest, ADynamicProgramRunsItselfWithTheCallersMask) {
  // grep itself: a shell would clear its mask.
  char grep[] = "grep";
  char pattern[] = "^SigBlk";
  char file[] = "/proc/self/status";
  char* argv[] = {grep, pattern, file, nullptr};
  const int fd = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const int status = Run("/bin/grep", argv, fd);
  close(fd);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Only what the caller's code blocked (SIGUSR1, bit 10), not the handler's mask.
  EXPECT_EQ(ReadFile(out_), "SigBlk:\t0000000000000200\n");
}

TEST_F(SessionExecHandoffTest, AFailedExecReturnsItsErrorToTheCaller) {
  char arg0[] = "missing";
  char* argv[] = {arg0, nullptr};
  const int status = Run("/nonexistent/program", argv);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 127) << status;
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
