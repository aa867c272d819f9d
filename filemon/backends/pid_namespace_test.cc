// Traced runs inside a new pid namespace, as under Bazel's linux-sandbox or
// `unshare --pid --fork`: several threads of one host each Run() a command at once, and every
// run must complete with its own records. The runs happen in a grandchild of the test that is
// the namespace's first process (pid 1), and again in a child of that one (an ordinary pid), so
// a backend that only works in the initial namespace fails here rather than in a sandbox.

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/test_child.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::ProblemOfARun;
using testing_internal::ShellCommand;
using testing_internal::WriteFile;

constexpr int kThreads = 3;
constexpr int kRunsPerThread = 3;
// Exit codes of the namespace's processes, read by the test.
constexpr int kPassed = 0;
constexpr int kFailed = 1;
constexpr int kNoNamespace = 77;
constexpr int kNoBackend = 78;
// A hung run ends the namespace's first process, and with it every process in the namespace.
constexpr unsigned kHangSeconds = 120;

// One thread's runs; a problem is written to stderr (this runs outside gtest's process).
void RunMany(Backend* backend, const std::string& dir, int thread, std::atomic<int>* failures) {
  for (int i = 0; i < kRunsPerThread; ++i) {
    const std::string output = absl::StrCat(dir, "/out_", getpid(), "_", thread, "_", i);
    const std::string problem = ProblemOfARun(
        backend, ShellCommand(absl::StrCat("cat ", dir, "/input > ", output)), output, true);
    if (!problem.empty()) {
      failures->fetch_add(1);
      fprintf(stderr, "pid %d thread %d run %d: %s\n", getpid(), thread, i, problem.c_str());
    }
  }
}

// The runs of one process: kThreads threads, each with its own Backend instance.
int RunAllInThisProcess(const char* backend_name, const std::string& dir) {
  std::vector<std::unique_ptr<Backend>> backends;
  for (int t = 0; t < kThreads; ++t) {
    absl::StatusOr<std::unique_ptr<Backend>> b = MakeBackend(backend_name);
    if (!b.ok()) {
      fprintf(stderr, "%s: %s\n", backend_name, b.status().ToString().c_str());
      return kNoBackend;
    }
    backends.push_back(*std::move(b));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back(RunMany, backends[t].get(), dir, t, &failures);
  }
  for (std::thread& w : workers) w.join();
  return failures.load() == 0 ? kPassed : kFailed;
}

int WaitFor(pid_t pid) {
  int status = 0;
  if (WaitPid(pid, &status) != pid) return kFailed;
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "pid %d killed by signal %d\n", pid, WTERMSIG(status));
    return kFailed;
  }
  return WEXITSTATUS(status);
}

// The hang guard's end. A handler, not SIGALRM's default action: the kernel drops a signal
// whose action is the default for a namespace's pid 1 (unless sent from outside), so the
// default would never end a hung pid 1.
void FailOnAlarm(int) { _exit(kFailed); }

// The namespace's first process: runs as pid 1, then has a child run as an ordinary pid.
int FirstProcess(const char* backend_name, const std::string& dir) {
  signal(SIGALRM, FailOnAlarm);
  alarm(kHangSeconds);
  if (getpid() != 1) {
    fprintf(stderr, "the namespace's first process is pid %d, not 1\n", getpid());
    return kFailed;
  }
  const int as_init = RunAllInThisProcess(backend_name, dir);
  if (as_init != kPassed) return as_init;
  pid_t child = fork();
  if (child < 0) return kFailed;
  if (child == 0) {
    alarm(kHangSeconds);  // a fork does not inherit the pending alarm
    _exit(RunAllInThisProcess(backend_name, dir));
  }
  return WaitFor(child);
}

class PidNamespaceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PidNamespaceTest, ConcurrentRunsCompleteInsideANewPidNamespace) {
  const char* backend_name = GetParam();
  const std::string dir = MakeTempDir(absl::StrCat("pidns_", backend_name));
  ASSERT_TRUE(WriteFile(dir + "/input", "data\n").ok());
  fflush(nullptr);
  pid_t outer = fork();
  ASSERT_GE(outer, 0) << strerror(errno);
  if (outer == 0) {
    if (unshare(CLONE_NEWPID) != 0) {
      fprintf(stderr, "unshare(CLONE_NEWPID): %s\n", strerror(errno));
      _exit(kNoNamespace);
    }
    pid_t first = fork();
    if (first < 0) _exit(kFailed);
    if (first == 0) _exit(FirstProcess(backend_name, dir));
    _exit(WaitFor(first));
  }
  const int result = WaitFor(outer);
  if (result == kNoNamespace) GTEST_SKIP() << "cannot make a pid namespace here (not root?)";
  if (result == kNoBackend) GTEST_SKIP() << backend_name << " is unavailable here";
  EXPECT_EQ(result, kPassed) << "a run inside the pid namespace failed; see stderr";
}

INSTANTIATE_TEST_SUITE_P(Backends, PidNamespaceTest, ::testing::Values("preload", "auto", "ptrace"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace filemon
