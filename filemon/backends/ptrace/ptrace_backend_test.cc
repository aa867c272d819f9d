#include "filemon/backends/ptrace/ptrace_backend.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/backend_conformance.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/test_child.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {

INSTANTIATE_TEST_SUITE_P(Ptrace, BackendConformanceTest, ::testing::Values("ptrace"));

namespace {

bool WaitForFile(const std::string& path) {
  for (int i = 0; i < 2000; ++i) {  // 20 s: generous on a loaded machine
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && st.st_size > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool HasComment(const TraceResult& r, absl::string_view text) {
  for (const OwnedRecord& rec : r.records) {
    if (rec.kind == RecordKind::kComment && rec.path.find(std::string(text)) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(PtraceBackend, TraceeThatTriesToPtraceGetsTheErrorAndTheLogSaysSo) {
  if (!OnPath("strace")) GTEST_SKIP() << "strace is not installed (Debian package strace)";
  Command c;
  c.argv = {"strace", "-o", "/dev/null", "/bin/true"};
  absl::StatusOr<TraceResult> r = TraceCommand("ptrace", c, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->exit.ShellStatus(), 0) << r->log;  // strace cannot trace under a tracer
  EXPECT_TRUE(HasComment(*r, "ptrace(request")) << r->log;
  EXPECT_TRUE(HasComment(*r, "Operation not permitted")) << r->log;
}

TEST(PtraceBackend, RunControlSignalIsPassedOnToTheCommand) {
  std::string dir = MakeTempDir("forward");
  std::atomic<bool> sent{false};
  RunControl control;
  TraceOptions options;
  options.control = &control;
  std::thread killer([&] {
    if (WaitForFile(dir + "/ready")) {
      control.Signal(SIGTERM);
      sent = true;
    }
  });
  absl::StatusOr<TraceResult> r =
      TraceCommand("ptrace",
                   ShellCommand("trap 'echo got > got; exit 3' TERM; echo x > ready; "
                                "while :; do sleep 0.05; done",
                                dir),
                   options);
  killer.join();
  ASSERT_TRUE(sent);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.code, 3) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "got")) << r->log;
}

TEST(PtraceBackend, StoppedJobStaysStoppedUntilContinued) {
  std::string dir = MakeTempDir("stop");
  std::atomic<char> state{'?'};
  std::thread continuer([&] {
    if (!WaitForFile(dir + "/pid")) return;
    int pid = atoi(ReadFileOrEmpty(dir + "/pid").c_str());
    std::string stat_path = absl::StrCat("/proc/", pid, "/stat");
    for (int i = 0; i < 2000 && state != 'T' && state != 't'; ++i) {
      std::string stat = ReadFileOrEmpty(stat_path);
      size_t paren = stat.rfind(')');
      if (paren != std::string::npos && paren + 2 < stat.size()) state = stat[paren + 2];
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Still stopped: the tracer did not resume it behind the job-control's back.
    std::string stat = ReadFileOrEmpty(stat_path);
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size()) state = stat[paren + 2];
    kill(pid, SIGCONT);
  });
  absl::StatusOr<TraceResult> r = TraceCommand(
      "ptrace", ShellCommand("echo $$ > pid; kill -STOP $$; echo resumed > after", dir), {});
  continuer.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(state == 'T' || state == 't') << "state " << state.load();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "after")) << r->log;
}

TEST(PtraceBackend, OrphansAreWaitedFor) {
  std::string dir = MakeTempDir("orphan");
  absl::StatusOr<TraceResult> r =
      TraceCommand("ptrace", ShellCommand("(sleep 0.3; echo late > late) & exit 0", dir), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0);
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "late")) << r->log;
  struct stat st;
  EXPECT_EQ(stat((dir + "/late").c_str(), &st), 0);
}

// The context switches of the calling thread so far.
long ThreadSwitches() {
  struct rusage usage;
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return -1;
  return usage.ru_nvcsw + usage.ru_nivcsw;
}

// Every stop of a tracee sends SIGCHLD to its tracer. The caller's thread, waiting for the run,
// is not woken for each (while nobody handles SIGCHLD, the kernel drops them unqueued): 2,000
// opens make 4,000 stops, and the caller wakes a few times, not thousands.
TEST(PtraceBackend, StopsOfTheTraceesDoNotWakeTheCaller) {
  struct sigaction old;
  ASSERT_EQ(sigaction(SIGCHLD, nullptr, &old), 0);
  if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) {
    GTEST_SKIP() << "SIGCHLD is handled in this process: its handler runs for every stop";
  }
  Command c;
  c.argv = {TestProgram("open_storm_bin"), "/dev/null", "1", "2000"};
  const long before = ThreadSwitches();
  absl::StatusOr<TraceResult> r = TraceCommand("ptrace", c, {});
  const long switches = ThreadSwitches() - before;
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0);
  EXPECT_EQ(r->Count(RecordKind::kRead, "/dev/null"), 2000);
  EXPECT_LT(switches, 200) << "the calling thread was woken " << switches << " times";
}

// In a child whose seccomp filter refuses seccomp(2) itself (EPERM), so that the command's
// process cannot install its filter: the run fails, said as a failed preparation for tracing,
// not as a failed execve of a program that exists. 0 when it is so said.
int RunWhereSeccompIsRefused() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    return 10;
  }
  Command command;
  command.argv = {"/bin/true"};
  absl::StatusOr<TraceResult> r = TraceCommand("ptrace", command, {});
  if (r.ok()) return 11;
  fprintf(stderr, "%s\n", r.status().ToString().c_str());
  return r.status().message() ==
                 "ptrace backend: cannot prepare the command for tracing (the handshake with its "
                 "tracer, its seccomp filter): Operation not permitted"
             ? 0
             : 12;
}

TEST(PtraceBackend, AFailedPreparationForTracingIsNotCalledAFailedExec) {
  EXPECT_EQ(ExitCodeOfChild(RunWhereSeccompIsRefused), 0) << "the message is on stderr";
}

// The SIGCHLD handler's count, in memory shared with the session's tracer process.
std::atomic<long>* g_sigchld_count = nullptr;
void CountSigchld(int) { g_sigchld_count->fetch_add(1, std::memory_order_relaxed); }

// A session's tracer is a process forked from the caller, with the caller's handlers; bmake's
// handles SIGCHLD. Every stop of a tracee sends the tracer SIGCHLD: the caller's handler does
// not run there for each (2,000 opens, 4,000 stops).
TEST(PtraceSession, TheCallersSigchldHandlerDoesNotRunInTheTracer) {
  void* shared = mmap(nullptr, sizeof(std::atomic<long>), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  g_sigchld_count = new (shared) std::atomic<long>(0);
  struct sigaction counting, old;
  memset(&counting, 0, sizeof(counting));
  counting.sa_handler = CountSigchld;
  counting.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGCHLD, &counting, &old), 0);
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakePtraceBackend();
  ASSERT_TRUE(backend.ok()) << backend.status();
  absl::StatusOr<std::unique_ptr<TraceSession>> session = (*backend)->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  const std::string program = TestProgram("open_storm_bin");
  TraceSession* s = session->get();
  const pid_t pid = vfork();
  if (pid == 0) {
    if (s->PrepareChild() != 0) _exit(126);
    execl(program.c_str(), program.c_str(), "/dev/null", "1", "2000", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  EXPECT_TRUE((*session)->SetChild(pid).ok());
  CollectingSink sink;
  EXPECT_TRUE((*session)->Finish(&sink).ok());
  int status = -1;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  sigaction(SIGCHLD, &old, nullptr);
  EXPECT_EQ(status, 0);
  long opens = 0;
  for (const OwnedRecord& r : sink.records()) opens += r.kind == RecordKind::kRead;
  EXPECT_GE(opens, 2000);
  EXPECT_LT(g_sigchld_count->load(), 100)
      << "the handler ran " << g_sigchld_count->load() << " times";
  munmap(shared, sizeof(std::atomic<long>));
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
