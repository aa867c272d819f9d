// Set-id programs under the ptrace backend. A separate test because it must run outside Bazel's
// sandbox (tag no-sandbox): the sandbox's user namespace maps only root, so it cannot switch to
// `nobody`.

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {
namespace {

// Set-id programs run without their privilege under ptrace when the tracer is not privileged;
// the log says so. The tracer runs as `nobody` in a forked child for this.
TEST(PtraceBackend, SetuidProgramRunsWithoutPrivilegeAndTheLogSaysSo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create a set-user-ID root program";
  absl::StatusOr<std::string> setuid_id = MakeSetuidRootId();
  ASSERT_TRUE(setuid_id.ok()) << setuid_id.status();
  std::string program = *setuid_id;
  std::string dir = program.substr(0, program.rfind('/'));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      std::string why = absl::StrCat("setuid(nobody) failed: ", strerror(errno));
      (void)!write(fds[1], why.data(), why.size());
      _exit(3);
    }
    Command c;
    c.argv = {program, "-u"};
    c.cwd = "/";
    absl::StatusOr<TraceResult> r = TraceCommand("ptrace", c, {});
    std::string out = r.ok() ? r->log : r.status().ToString();
    (void)!write(fds[1], out.data(), out.size());
    _exit(r.ok() ? 0 : 2);
  }
  close(fds[1]);
  std::string log;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) log.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  (void)!system(absl::StrCat("rm -rf '", dir, "'").c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) GTEST_SKIP() << log;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
  EXPECT_NE(log.find("is set-user-ID but runs without that privilege"), std::string::npos) << log;
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
