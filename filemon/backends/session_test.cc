// `TraceSession` (filemon/core/backend.h) under every backend that has one, the session
// conformance suite: the caller (v)forks and reaps the command itself, as bmake does. Each log
// must be in the kernel's order (tree_order.h), the command's own tree only. Runs outside
// Bazel's sandbox for ebpf, whose cases skip with the reason where the kernel refuses BPF.

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/core/tree_order.h"
#include "gtest/gtest.h"

extern char** environ;

namespace filemon {
namespace {

using testing_internal::CollectingSink;
using testing_internal::OwnedRecord;

// One command under a session: vforked, prepared, exec'd, as bmake's job mode does it.
class Traced {
 public:
  // `sh -c script`.
  Traced(Backend* backend, const std::string& script, const TraceOptions& options = {})
      : Traced(backend, std::vector<std::string>{"/bin/sh", "sh", "-c", script}, options) {}

  // The program `path_and_argv[0]` with the argv that follows it, exec'd with execv.
  Traced(Backend* backend, const std::vector<std::string>& path_and_argv,
         const TraceOptions& options) {
    absl::StatusOr<std::unique_ptr<TraceSession>> session = backend->StartSession(options);
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return;
    session_ = *std::move(session);
    TraceSession* s = session_.get();
    std::vector<char*> argv;
    for (size_t i = 1; i < path_and_argv.size(); ++i) {
      argv.push_back(const_cast<char*>(path_and_argv[i].c_str()));
    }
    argv.push_back(nullptr);
    const char* path = path_and_argv[0].c_str();
    pid_ = vfork();
    if (pid_ == 0) {
      if (s->PrepareChild() != 0) _exit(126);
      execv(path, argv.data());
      _exit(127);
    }
    EXPECT_TRUE(session_->SetChild(pid_).ok());
  }

  // Finishes the session first (the command is still unreaped), then reaps the command.
  // Returns its wait status; the records are in `records()`.
  int Finish() {
    if (session_ == nullptr) return -1;
    EXPECT_TRUE(session_->Finish(&sink_).ok());
    int status = -1;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    return status;
  }

  // Ends the session before Finish(), as a caller that gives up does; returns the command's
  // wait status.
  int Abandon() {
    session_.reset();
    int status = -1;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    return status;
  }

  pid_t pid() const { return pid_; }
  const std::vector<OwnedRecord>& records() { return sink_.collected.records(); }

  // The kernel's order, with the command as the only root; empty if kept.
  std::string OrderError() { return std::string(sink_.order.status().message()); }

  bool Has(RecordKind kind, absl::string_view path) {
    for (const OwnedRecord& r : records()) {
      if (r.kind == kind && r.path == path) return true;
    }
    return false;
  }

  // True if a `#` comment contains `text`.
  bool Says(absl::string_view text) {
    for (const OwnedRecord& r : records()) {
      if (r.kind == RecordKind::kComment && absl::StrContains(r.path, text)) return true;
    }
    return false;
  }

  // The records as log lines, for a failure's message.
  std::string Log() {
    std::string log;
    for (const OwnedRecord& r : records()) absl::StrAppend(&log, r.ToString(), "\n");
    return log;
  }

 private:
  std::unique_ptr<TraceSession> session_;
  pid_t pid_ = -1;
  // Collects the records and checks their order as they come.
  struct OrderedSink : public RecordSink {
    void Add(const Record& record) override {
      order.Add(record, ++line);
      collected.Add(record);
    }
    CollectingSink collected;
    TreeOrderChecker order{TreeOrderOptions{TreeRoots::kFirstOnly, {}}};
    size_t line = 0;
  };
  OrderedSink sink_;
};

// Forks a child that prepares itself and runs `sh -c script`, as a caller of the session
// protocol does; returns its pid (-1 if fork failed).
pid_t ForkShell(TraceSession* session, const char* script) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (session->PrepareChild() != 0) _exit(121);
    execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    _exit(122);
  }
  return pid;
}

class SessionTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::string refusal = testing_internal::HostRefusal(GetParam());
    if (!refusal.empty()) GTEST_SKIP() << GetParam() << " cannot run here: " << refusal;
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(GetParam());
    if (!backend.ok()) GTEST_SKIP() << backend.status();
    backend_ = *std::move(backend);
    absl::StatusOr<std::unique_ptr<TraceSession>> probe = backend_->StartSession({});
    if (absl::IsUnimplemented(probe.status())) {
      GTEST_SKIP() << GetParam() << " has no sessions yet (issue 21): " << probe.status();
    }
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", GetParam());
    ASSERT_EQ(system(absl::StrCat("rm -rf ", dir_, " && mkdir -p ", dir_).c_str()), 0);
  }

  std::unique_ptr<Backend> backend_;
  std::string dir_;
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
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
  ASSERT_TRUE(session.ok()) << session.status();
  const pid_t pid = ForkShell(session->get(), "(sleep 0.3; true) & exit 0");
  ASSERT_GE(pid, 0);
  ASSERT_TRUE((*session)->SetChild(pid).ok());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  CollectingSink sink;
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    pollfd p{(*session)->ReadFd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 30 * 1000), 1) << "ReadFd() stayed unreadable after the tree ended";
    absl::StatusOr<bool> processed = (*session)->Process(&sink);
    ASSERT_TRUE(processed.ok()) << processed.status();
    done = *processed;
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(sink.records().back().kind, RecordKind::kExit);
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

// A nested bmake under a session (bmake_filemon.h, "Nested"): the traced command opens a
// filemon of its own for its child (bmake_filemon_nested_open.c, through the bmake API).
// preload and auto hand the child over, as FreeBSD's device does: the inner log has the
// child's records, this session's log the F that created it and a comment, none of its
// records. ptrace cannot (one tracer per process): the inner filemon_open refuses with EBUSY.
TEST_P(SessionTest, ANestedFilemonTakesItsChildOverWhereItCan) {
  const std::string backend = GetParam();
  if (backend == "ebpf") GTEST_SKIP() << "ebpf traces every descendant in the kernel: no hand-over";
  const std::string input = dir_ + "/nested_input";
  const std::string inner_log = dir_ + "/inner.log";
  ASSERT_EQ(system(absl::StrCat("echo x > ", input).c_str()), 0);
  const std::string helper = absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"),
                                          "/filemon/backends/bmake_filemon_nested_open");
  Traced outer(backend_.get(), absl::StrCat("exec ", helper, " ", inner_log, " ", input));
  const int status = outer.Finish();
  EXPECT_EQ(outer.OrderError(), "");
  if (backend == "ptrace") {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    return;
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 10) << status;
  const std::string inner = testing_internal::ReadFileOrEmpty(inner_log);
  EXPECT_TRUE(absl::StrContains(inner, absl::StrCat(" ", input, "\n"))) << inner;
  bool forked = false, said = false;
  for (const OwnedRecord& r : outer.records()) {
    EXPECT_NE(r.path, input) << "this session's log kept the handed-over child's read";
    forked = forked || (r.kind == RecordKind::kFork && r.pid == outer.pid());
    said = said || (r.kind == RecordKind::kComment && absl::StrContains(r.path, "nested filemon"));
  }
  EXPECT_TRUE(forked) << "no F for the handed-over child";
  EXPECT_TRUE(said) << "no comment on the hand-over";
}

// One command of a session whose child, once prepared, runs `child()` (which exits, or execs)
// rather than a shell: forks it, sets it as the session's child, reaps it, finishes the
// session. What it logged is in `log` (one line per record); returns its wait status, or -1.
struct PreparedRun {
  template <typename Fn>
  PreparedRun(Backend* backend, Fn child) {
    absl::StatusOr<std::unique_ptr<TraceSession>> session = backend->StartSession({});
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return;
    pid = fork();
    if (pid == 0) {
      if ((*session)->PrepareChild() != 0) _exit(121);
      child();
      _exit(120);
    }
    if (pid < 0 || !(*session)->SetChild(pid).ok() || waitpid(pid, &status, 0) != pid) return;
    CollectingSink sink;
    EXPECT_TRUE((*session)->Finish(&sink).ok());
    for (const OwnedRecord& r : sink.records()) absl::StrAppend(&log, r.ToString(), "\n");
  }
  bool ExitedWith(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

  pid_t pid = -1;
  int status = -1;
  std::string log;
};

// A command that creates a process before its exec, or instead of one: the caller's child,
// once prepared, runs `cat FILE` with posix_spawn and exits with its status (a caller's child
// may run any code before its exec). Its spawn and its child are traced as any.
TEST_P(SessionTest, TheCallersChildMaySpawnBeforeItsExec) {
  const std::string input = dir_ + "/spawned_input";
  ASSERT_EQ(system(absl::StrCat("echo x > ", input).c_str()), 0);
  PreparedRun run(backend_.get(), [&] {
    char* argv[] = {const_cast<char*>("cat"), const_cast<char*>(input.c_str()), nullptr};
    pid_t child;
    int status = 0;
    if (posix_spawn(&child, "/bin/cat", nullptr, nullptr, argv, environ) != 0 ||
        waitpid(child, &status, 0) != child) {
      _exit(122);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 123);
  });
  EXPECT_TRUE(run.ExitedWith(0)) << "status " << run.status << "\n" << run.log;
  EXPECT_TRUE(absl::StrContains(run.log, absl::StrCat(" ", input, "\n"))) << run.log;
}

// A command whose exec fails: the caller's child exits 127 without running a program. Its log
// still ends it with its X, as the device writes it for every process it traced.
TEST_P(SessionTest, AChildWhoseExecFailsHasItsX) {
  PreparedRun run(backend_.get(), [] {
    execl("/nonexistent/filemon-absent", "absent", static_cast<char*>(nullptr));
    _exit(127);
  });
  ASSERT_TRUE(run.ExitedWith(127)) << run.status;
  EXPECT_TRUE(absl::StrContains(run.log, absl::StrCat("X ", run.pid, " 127 0\n"))) << run.log;
}

// The caller's child execs with an environment, or an argv, the kernel cannot read (a
// PROT_NONE page): the exec fails with EFAULT as untraced, for a dynamically and a statically
// linked program (auto's hand-off gives the latter to its ptrace helper), and nothing crashes.
TEST_P(SessionTest, AChildsExecOfUnreadableArgumentsFailsWithEfault) {
  const std::string static_program = testing_internal::TestProgram("static_open_bin");
  void* bad = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(bad, MAP_FAILED);
  for (const std::string& program : {std::string("/bin/true"), static_program}) {
    SCOPED_TRACE(program);
    PreparedRun run(backend_.get(), [&] {
      char* argv[] = {const_cast<char*>("x"), nullptr};
      execve(program.c_str(), argv, static_cast<char* const*>(bad));
      if (errno != EFAULT) _exit(122);
      execve(program.c_str(), static_cast<char* const*>(bad), environ);
      _exit(errno == EFAULT ? 0 : 123);
    });
    EXPECT_TRUE(run.ExitedWith(0)) << "status " << run.status;
  }
  munmap(bad, 4096);
}

// A process of `records` without its X: the root (the first process named) or one with an F,
// except one a comment says it handed over to a nested filemon (whose X is the inner log's,
// as with FreeBSD's device); "" if every one has its X.
std::string ExitlessProcess(const std::vector<OwnedRecord>& records) {
  std::vector<int64_t> live, handed_over;
  bool root_seen = false;
  for (const OwnedRecord& r : records) {
    int64_t pid = 0;
    if (r.kind == RecordKind::kComment && absl::StrContains(r.path, "nested filemon") &&
        sscanf(r.path.c_str(), " preload: pid %" SCNd64, &pid) == 1) {
      handed_over.push_back(pid);
    }
    if (r.kind >= RecordKind::kVersion) continue;
    if (!root_seen) live.push_back(r.pid);
    root_seen = true;
    if (r.kind == RecordKind::kFork) live.push_back(r.child_pid);
    if (r.kind == RecordKind::kExit)
      live.erase(std::remove(live.begin(), live.end(), r.pid), live.end());
  }
  for (int64_t pid : live) {
    if (std::find(handed_over.begin(), handed_over.end(), pid) == handed_over.end()) {
      return absl::StrCat("pid ", pid, " has no X");
    }
  }
  return "";
}

// The records of the log text `log` (strict), or a comment saying why it does not parse.
std::vector<OwnedRecord> ParseLog(const std::string& log) {
  Parser parser(log, ParserOptions());
  std::vector<OwnedRecord> records;
  Record r;
  while (parser.Next(&r)) records.push_back(OwnedRecord::From(r));
  if (!parser.ok())
    records.push_back(
        OwnedRecord{RecordKind::kComment, 0, 0, 0, 0, std::string(parser.status().message()), ""});
  return records;
}

// The nested hand-over of every way a child may start its program (bmake_filemon_nested_open's
// HOW), as for execl above: fexecve, execveat, and posix_spawn(p) from the child (which leaves
// this trace for what it starts, FreeBSD's per-process rule); and an exec that fails, after
// which the child exits 127. Each log ends every process it introduced with an X, as the
// device does: the child's X is the inner log's (its root), never this one's.
TEST_P(SessionTest, ANestedFilemonTakesItsChildOverHoweverItStarts) {
  const std::string backend = GetParam();
  if (backend == "ebpf" || backend == "ptrace") {
    GTEST_SKIP() << backend << ": no hand-over (see ANestedFilemonTakesItsChildOverWhereItCan)";
  }
  const std::string helper = absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"),
                                          "/filemon/backends/bmake_filemon_nested_open");
  for (const char* how : {"fexecve", "execveat", "spawn", "spawnp", "absent"}) {
    SCOPED_TRACE(how);
    const bool fails = std::string(how) == "absent";
    const std::string input = absl::StrCat(dir_, "/input_", how);
    const std::string inner_log = absl::StrCat(dir_, "/inner_", how, ".log");
    ASSERT_EQ(system(absl::StrCat("echo x > ", input).c_str()), 0);
    Traced outer(backend_.get(),
                 absl::StrCat("exec ", helper, " ", inner_log, " ", input, " ", how));
    const int status = outer.Finish();
    EXPECT_EQ(outer.OrderError(), "");
    const std::string inner = testing_internal::ReadFileOrEmpty(inner_log);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == (fails ? 11 : 10))
        << status << "\nouter:\n"
        << outer.Log() << "inner:\n"
        << inner;
    EXPECT_FALSE(absl::StrContains(outer.Log(), input)) << outer.Log();
    EXPECT_TRUE(outer.Says("nested filemon")) << outer.Log();
    EXPECT_EQ(ExitlessProcess(outer.records()), "") << outer.Log();
    const std::vector<OwnedRecord> inner_records = ParseLog(inner);
    EXPECT_EQ(ExitlessProcess(inner_records), "") << inner;
    int64_t child = 0;
    for (const OwnedRecord& r : outer.records()) {
      if (r.kind == RecordKind::kFork && r.pid == outer.pid()) child = r.child_pid;
    }
    EXPECT_TRUE(
        absl::StrContains(inner, absl::StrCat("\nX ", child, fails ? " 127 0\n" : " 0 0\n")))
        << "no X for the inner log's root " << child << "\n"
        << inner;
    if (!fails) EXPECT_TRUE(absl::StrContains(inner, absl::StrCat(" ", input, "\n"))) << inner;
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
