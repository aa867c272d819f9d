// `TraceSession` (filemon/core/backend.h) under every backend that has one, the session
// conformance suite: the caller (v)forks and reaps the command itself, as bmake does. Each log
// must be in the kernel's order (tree_order.h), the command's own tree only. Runs outside
// Bazel's sandbox for ebpf, whose cases skip with the reason where the kernel refuses BPF.

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/backends/testing/session_harness.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/tree_order.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::CollectingSink;
using testing_internal::ForkShell;
using testing_internal::OwnedRecord;
using testing_internal::Traced;

class SessionTest : public testing_internal::SessionSuite {
 protected:
  // A session whose command `shell` was forked, run and reaped as bmake does; null (the
  // failure said) if it could not run. Its tree may still run (an orphan).
  std::unique_ptr<TraceSession> ReapedSession(const char* shell) {
    absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
    if (!session.ok()) {
      ADD_FAILURE() << session.status();
      return nullptr;
    }
    const pid_t pid = ForkShell(session->get(), shell);
    int status = 0;
    if (pid < 0 || !(*session)->SetChild(pid).ok() || waitpid(pid, &status, 0) != pid) {
      ADD_FAILURE() << "could not run " << shell;
      return nullptr;
    }
    return *std::move(session);
  }
};

// bmake -j2: two jobs at once, a session each; neither log holds a record of the other.
TEST_P(SessionTest, ConcurrentSessionsKeepTheirRecordsApart) {
  const std::string a = dir_ + "/a.txt", b = dir_ + "/b.txt";
  ASSERT_EQ(system(absl::StrCat("echo a > ", a, " && echo b > ", b).c_str()), 0);
  Traced job_a(backend_.get(), absl::StrCat("i=0; while [ $i -lt 40 ]; do cat ", a,
                                            " > /dev/null; i=$((i+1)); done"));
  Traced job_b(backend_.get(), absl::StrCat("i=0; while [ $i -lt 40 ]; do cat ", b,
                                            " > /dev/null; i=$((i+1)); done"));
  EXPECT_EQ(job_a.Finish(), 0);
  EXPECT_EQ(job_b.Finish(), 0);
  for (Traced* job : {&job_a, &job_b}) {
    const std::string mine = job == &job_a ? a : b, theirs = job == &job_a ? b : a;
    int reads = 0;
    for (const OwnedRecord& r : job->records()) {
      EXPECT_NE(r.path, theirs) << "a record of the other job: " << r.ToString();
      if (r.kind == RecordKind::kRead && r.path == mine) ++reads;
    }
    EXPECT_EQ(reads, 40) << mine;
    EXPECT_EQ(job->OrderError(), "");
  }
}

// A command that leaves an orphan: the session ends when the orphan does, with its records.
TEST_P(SessionTest, TheSessionWaitsForAnOrphan) {
  const std::string marker = dir_ + "/marker";
  ASSERT_EQ(system(absl::StrCat("echo m > ", marker).c_str()), 0);
  Traced job(backend_.get(), absl::StrCat("(sleep 0.3; cat ", marker, " > /dev/null) & exit 0"));
  EXPECT_EQ(job.Finish(), 0);
  EXPECT_TRUE(job.Has(RecordKind::kRead, marker));
  EXPECT_EQ(job.OrderError(), "");
}

// bmake's loop when the command leaves an orphan: once the caller has reaped the command, a
// poll of ReadFd() with no deadline of its own returns when the orphan exits (the contract:
// readable at the latest when the tree is done), never at its timeout.
TEST_P(SessionTest, ReadFdTurnsReadableWhenTheOrphanExits) {
  std::unique_ptr<TraceSession> session = ReapedSession("(sleep 0.3; true) & exit 0");
  ASSERT_NE(session, nullptr);
  CollectingSink sink;
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    pollfd p{session->ReadFd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 30 * 1000), 1) << "ReadFd() stayed unreadable after the tree ended";
    absl::StatusOr<bool> processed = session->Process(&sink);
    ASSERT_TRUE(processed.ok()) << processed.status();
    done = *processed;
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(sink.records().back().kind, RecordKind::kExit);
}

// preload and auto make the ReadFd() descriptor at its first call: a caller that asks for it
// only once the tree has ended gets one that polls readable at once.
TEST_P(SessionTest, ReadFdAskedAfterTheTreeEndedIsReadable) {
  if (std::string(GetParam()) != "preload" && std::string(GetParam()) != "auto") {
    GTEST_SKIP() << "the preload supervisor's descriptor made at the first ReadFd()";
  }
  std::unique_ptr<TraceSession> session = ReapedSession("exit 0");
  ASSERT_NE(session, nullptr);
  CollectingSink sink;
  bool done = false;
  for (int i = 0; i < 3000 && !done; ++i) {  // until the tree is done, without ReadFd()
    absl::StatusOr<bool> processed = session->Process(&sink);
    ASSERT_TRUE(processed.ok()) << processed.status();
    done = *processed;
    if (!done) usleep(10 * 1000);
  }
  ASSERT_TRUE(done);
  pollfd p{session->ReadFd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 1) << "ReadFd() asked after the end is not readable";
}

// preload and auto: the shared supervisor sleeps without a timeout once no command has run
// for a while, and a command started then must still be read while it runs: its root writes
// more records than its pipe holds before it exits, which it can only if the supervisor
// drains the pipe meanwhile.
TEST_P(SessionTest, ACommandAfterAnIdleSpellFillsItsPipeAndEnds) {
  if (std::string(GetParam()) != "preload" && std::string(GetParam()) != "auto") {
    GTEST_SKIP() << "the preload supervisor's idle sleep";
  }
  const std::string file = dir_ + "/f";
  ASSERT_EQ(system(absl::StrCat("echo f > ", file).c_str()), 0);
  usleep(1500 * 1000);  // longer than the supervisor ticks without a command
  // `: < file` opens the file in the shell itself (the root): 30000 records, over 1 MiB.
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  const pid_t pid = ForkShell(
      session->get(),
      absl::StrCat("i=0; while [ $i -lt 30000 ]; do : < ", file, "; i=$((i+1)); done").c_str());
  ASSERT_GE(pid, 0);
  ASSERT_TRUE((*session)->SetChild(pid).ok());
  pollfd p{(*session)->ReadFd(), POLLIN, 0};
  const int ready = poll(&p, 1, 40 * 1000);
  if (ready != 1) kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_EQ(ready, 1) << "the command still ran after 40 s: its pipe was never drained";
  CollectingSink sink;
  ASSERT_TRUE((*session)->Finish(&sink).ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  size_t reads = 0;
  for (const OwnedRecord& r : sink.records())
    reads += r.kind == RecordKind::kRead && r.path == file;
  EXPECT_EQ(reads, 30000u);
}

// The command killed by a signal: its X says so, though only its parent (the caller) reaps it.
TEST_P(SessionTest, ACommandKilledByASignalGetsItsExit) {
  Traced job(backend_.get(), "kill -TERM $$");
  const int status = job.Finish();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  bool exit_seen = false;
  for (const OwnedRecord& r : job.records()) {
    if (r.kind == RecordKind::kExit && r.pid == job.pid()) {
      EXPECT_EQ(r.signal, SIGTERM) << r.ToString();
      exit_seen = true;
    }
  }
  EXPECT_TRUE(exit_seen);
  EXPECT_EQ(job.OrderError(), "");
}

// A record larger than a pipe write (a rename of two long paths) goes by the socket, sent by
// the command's last act: the session still ends with it in the log.
TEST_P(SessionTest, ARecordSentByTheSocketAsTheCommandEndsIsKept) {
  std::string from = dir_, to = dir_;
  for (int i = 0; i < 1500; ++i) absl::StrAppend(&from, "/."), absl::StrAppend(&to, "/.");
  absl::StrAppend(&from, "/from");
  absl::StrAppend(&to, "/to");
  Traced job(backend_.get(), absl::StrCat("touch ", from, " && exec mv ", from, " ", to));
  EXPECT_EQ(job.Finish(), 0);
  bool moved = false;
  for (const OwnedRecord& r : job.records()) {
    moved = moved || (r.kind == RecordKind::kMove && r.path == from && r.path2 == to);
  }
  EXPECT_TRUE(moved);
  EXPECT_EQ(job.OrderError(), "");
}

// --probes: a lookup of an absent path is an N record under every backend.
TEST_P(SessionTest, ProbesRecordAnAbsentPath) {
  TraceOptions options;
  options.probes = true;
  const std::string absent = dir_ + "/absent";
  Traced job(backend_.get(), absl::StrCat("cat ", absent, " 2> /dev/null; exit 0"), options);
  EXPECT_EQ(job.Finish(), 0);
  EXPECT_TRUE(job.Has(RecordKind::kNotFound, absent));
  EXPECT_EQ(job.OrderError(), "");
}

// A command at the kernel's limit on an exec's argv and environment runs, as it would
// untraced: under preload and auto, when the session's variables do not fit, with fewer of
// them or none (the log then says the command sent no record), as a run's exec does.
TEST_P(SessionTest, ACommandAtTheKernelsLimitRuns) {
  auto command = [](size_t n) {
    std::vector<std::string> argv(n + 1, std::string(99, 'x'));
    argv[0] = "/bin/true";
    return argv;
  };
  const size_t n =
      testing_internal::MostArgumentsThatRun(command, testing_internal::OurEnvironment());
  ASSERT_GT(n, 0u);
  std::vector<std::string> path_and_argv = command(n);
  path_and_argv.insert(path_and_argv.begin(), "/bin/true");
  Traced job(backend_.get(), path_and_argv, {});
  const int status = job.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(job.Has(RecordKind::kExec, "/bin/true") || job.Says("E2BIG")) << job.Log();
  EXPECT_EQ(job.OrderError(), "");
}

// The caller's environment may grow between its commands (bmake's .export, a vforked child's
// setenv): the next command still gets all of it, however many entries came (a session made
// for a smaller environment, kept by the backend for the next command, is not used then).
TEST_P(SessionTest, AnEnvironmentThatGrewSinceTheLastCommandFits) {
  {
    Traced before(backend_.get(), "true");
    EXPECT_EQ(before.Finish(), 0);
  }  // the session ends
  size_t count = 0;
  while (environ[count] != nullptr) ++count;
  std::vector<std::string> added;
  for (size_t i = 0; i < 2 * count + 300; ++i) {
    added.push_back(absl::StrCat("FILEMON_SESSION_TEST_GREW_", i));
    ASSERT_EQ(setenv(added.back().c_str(), "x", 1), 0);
  }
  Traced after(backend_.get(), absl::StrCat("test \"$", added.back(), "\" = x"));
  const int status = after.Finish();
  for (const std::string& name : added) unsetenv(name.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << after.Log();
  EXPECT_TRUE(after.Has(RecordKind::kExec, "/bin/sh")) << after.Log();
}

// A statically linked command, which the caller execs itself: traced (auto hands it to ptrace
// in place), or the log says that its operations are missing; never a silent loss.
TEST_P(SessionTest, AStaticCommandIsTracedOrSaidToBeMissing) {
  const std::string in = dir_ + "/static_in", out = dir_ + "/static_out";
  ASSERT_TRUE(testing_internal::WriteFile(in, "data\n").ok());
  const std::string program = testing_internal::TestProgram("static_open_bin");
  Traced job(backend_.get(), std::vector<std::string>{program, "static_open", in, out}, {});
  const int status = job.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE((job.Has(RecordKind::kRead, in) && job.Has(RecordKind::kWrite, out)) ||
              job.Says("sent no record"))
      << job.Log();
  EXPECT_EQ(job.OrderError(), "");
}

// Destroying a session before Finish() kills the command: nothing traced is left running.
TEST_P(SessionTest, DestroyingASessionKillsTheCommand) {
  Traced job(backend_.get(), "sleep 30");
  usleep(100 * 1000);
  const int status = job.Abandon();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

// The bmake-style protocol with fork: the caller chdirs and execs the command itself and reaps
// it with its own waitpid(); the session delivers the records, and the caller never gets a
// child of the backend's.
TEST_P(SessionTest, TracesAChildTheCallerForksAndReaps) {
  ASSERT_TRUE(testing_internal::WriteFile(dir_ + "/in", "data\n").ok());
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  const std::string script = "cat in > out; sh -c 'exit 0'; exit 5";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir_.c_str()) != 0) _exit(120);
    if ((*session)->PrepareChild() != 0) _exit(121);
    execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(122);
  }
  ASSERT_TRUE((*session)->SetChild(pid).ok());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  CollectingSink sink;
  ASSERT_TRUE((*session)->Finish(&sink).ok());
  testing_internal::TraceResult r;
  r.records = std::move(sink.records());
  for (const OwnedRecord& rec : r.records) absl::StrAppend(&r.log, rec.ToString(), "\n");
  EXPECT_TRUE(r.Has(RecordKind::kExec, "/bin/sh")) << r.log;
  EXPECT_TRUE(r.Has(RecordKind::kRead, "in")) << r.log;
  EXPECT_TRUE(r.Has(RecordKind::kWrite, "out")) << r.log;
  EXPECT_EQ(r.Of(RecordKind::kFork).size(), 2u) << r.log;
  std::vector<const OwnedRecord*> exits = r.Of(RecordKind::kExit);
  ASSERT_EQ(exits.size(), 3u) << r.log;
  EXPECT_EQ(exits.back()->pid, pid) << r.log;
  EXPECT_EQ(exits.back()->status, 5) << r.log;
}

// bmake's loop: poll ReadFd(), then Process() until it says the tree is done.
TEST_P(SessionTest, ProcessReportsDoneAfterTheTreeExits) {
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  const pid_t pid = ForkShell(session->get(), "exec /bin/true");
  ASSERT_GE(pid, 0);
  ASSERT_TRUE((*session)->SetChild(pid).ok());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
  CollectingSink sink;
  bool done = false;
  for (int i = 0; i < 2000 && !done; ++i) {
    pollfd p{(*session)->ReadFd(), POLLIN, 0};
    poll(&p, 1, 10);
    absl::StatusOr<bool> processed = (*session)->Process(&sink);
    ASSERT_TRUE(processed.ok()) << processed.status();
    done = *processed;
  }
  ASSERT_TRUE(done);
  bool exec_seen = false;
  for (const OwnedRecord& rec : sink.records()) {
    exec_seen |= rec.kind == RecordKind::kExec && rec.path == "/bin/true";
  }
  EXPECT_TRUE(exec_seen);
}

// A child that dies before PrepareChild(): Finish() returns rather than hangs, with no record
// but comments.
TEST_P(SessionTest, ChildThatNeverExecsEndsTheSession) {
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(9);
  ASSERT_TRUE((*session)->SetChild(pid).ok());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  CollectingSink sink;
  EXPECT_TRUE((*session)->Finish(&sink).ok());
  // Nothing was traced (preload's log says why in a comment).
  for (const OwnedRecord& r : sink.records()) {
    EXPECT_EQ(r.kind, RecordKind::kComment) << r.ToString();
  }
}

// One tree's writer breaks the framing of its pipe (preload, auto: eight zero bytes, a message
// without its size); a session traced at the same time keeps every record and its end.
TEST_P(SessionTest, AWritersBugInOneSessionLeavesTheOthersAlone) {
  const std::string marker = dir_ + "/marker";
  ASSERT_EQ(system(absl::StrCat("echo m > ", marker).c_str()), 0);
  Traced other(backend_.get(), absl::StrCat("sleep 0.5; cat ", marker, " > /dev/null"));
  Traced broken(backend_.get(),
                "[ -z \"$FILEMON_PRELOAD_PIPE\" ] || "
                "head -c 8 /dev/zero > /proc/self/fd/$FILEMON_PRELOAD_PIPE; exit 0");
  EXPECT_EQ(broken.Finish(), 0);
  EXPECT_EQ(other.Finish(), 0);
  EXPECT_TRUE(other.Has(RecordKind::kRead, marker));
  EXPECT_EQ(other.OrderError(), "");
}

// Issue 18 for sessions: only a session's own tree writes into its log. One job's process
// (wire_forger.c) sends records claiming a process of the other job through every channel its
// session gave it; none reaches the other log, and its own log names the refusal.
TEST_P(SessionTest, AJobCannotWriteIntoAnotherJobsLog) {
  const std::string fifo = dir_ + "/hold";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // The victim waits until the forger is done, so that its pid is a live process of its tree.
  Traced victim(backend_.get(), absl::StrCat("exec cat ", fifo));
  const std::string prefix = dir_ + "/forged";
  Traced forger(backend_.get(),
                absl::StrCat("exec ", testing_internal::TestProgram("wire_forger_bin"), " ",
                             victim.pid(), " ", prefix));
  EXPECT_EQ(forger.Finish(), 0);
  ASSERT_EQ(system(absl::StrCat("echo done > ", fifo).c_str()), 0);
  EXPECT_EQ(victim.Finish(), 0);
  for (const OwnedRecord& r : victim.records()) {
    EXPECT_FALSE(absl::StartsWith(r.path, prefix)) << "forged into the victim's log: " << r.path;
  }
  EXPECT_EQ(victim.OrderError(), "");
  if (std::string(GetParam()) == "preload" || std::string(GetParam()) == "auto") {
    bool named = false;
    for (const OwnedRecord& r : forger.records()) {
      named = named || (r.kind == RecordKind::kComment && absl::StrContains(r.path, "refused") &&
                        absl::StrContains(r.path, absl::StrCat("pid ", forger.pid())));
    }
    EXPECT_TRUE(named) << "the forger's log does not name the refusal";
  }
}

// The tids of the calling process's threads.
std::vector<std::string> Threads() {
  std::vector<std::string> tids;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (struct dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') tids.push_back(e->d_name);
    }
    closedir(dir);
  }
  std::sort(tids.begin(), tids.end());
  return tids;
}

// bmake starts a session per command: no thread per session (preload and auto: one supervisor
// thread for the whole process, made by the first session; ptrace: a tracer process).
TEST_P(SessionTest, ASessionStartsNoThreadOfItsOwn) {
  Traced first(backend_.get(), "exit 0");
  EXPECT_EQ(first.Finish(), 0);
  const std::vector<std::string> before = Threads();
  Traced second(backend_.get(), "sleep 0.2");
  EXPECT_EQ(Threads(), before) << "a thread made for the second session";
  EXPECT_EQ(second.Finish(), 0);
}

// A forked child of the caller (fork without exec) starts sessions of its own: it has no copy
// of the parent's supervisor thread, so it must not use the parent's supervisor.
TEST_P(SessionTest, AForkedChildOfTheCallerTracesItsOwnCommands) {
  Traced parent_job(backend_.get(), "exit 0");  // the parent's supervisor exists
  EXPECT_EQ(parent_job.Finish(), 0);
  const std::string marker = dir_ + "/marker";
  ASSERT_EQ(system(absl::StrCat("echo m > ", marker).c_str()), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(30);  // a hang fails the test instead of stalling it
    Traced job(backend_.get(), absl::StrCat("cat ", marker, " > /dev/null"));
    const bool ok = job.Finish() == 0 && job.Has(RecordKind::kRead, marker);
    _exit(ok && !::testing::Test::HasFailure() ? 0 : 1);
  }
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionTest,
                         ::testing::Values("ptrace", "preload", "auto", "ebpf"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// As root where ebpf can run, auto still serves sessions with preload: each ebpf session would
// load a BPF program of its own, once per target of a build (README, "How auto decides").
TEST(AutoSession, StaysWithPreloadWhereEbpfCouldRun) {
  if (geteuid() != 0 || !testing_internal::HostRefusal("ebpf").empty()) {
    GTEST_SKIP() << "ebpf cannot run here: auto would not pick it anyway";
  }
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("auto");
  ASSERT_TRUE(backend.ok()) << backend.status();
  const std::string seen = testing_internal::MakeTempDir("auto_session") + "/ld_preload";
  Traced job(backend->get(), absl::StrCat("printf %s \"$LD_PRELOAD\" > ", seen));
  EXPECT_EQ(job.Finish(), 0);
  EXPECT_TRUE(absl::StrContains(testing_internal::ReadFileOrEmpty(seen), "libfilemon_preload.so"))
      << testing_internal::ReadFileOrEmpty(seen);
}
}  // namespace
}  // namespace filemon
