#include "filemon/meta/run_and_record.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/meta/checker.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

// Runs the command untraced (fork, chdir, the output descriptors, exec) and records that it
// read `read_path`: enough to test the .meta, without depending on a tracing backend.
class FakeBackend : public Backend {
 public:
  explicit FakeBackend(std::string read_path) : read_path_(std::move(read_path)) {}
  absl::string_view name() const override { return "fake"; }
  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions&,
                                 RecordSink* sink) override {
    ++runs;
    const pid_t pid = fork();
    if (pid == 0) {
      if (chdir(command.cwd.c_str()) != 0 || RedirectCommandOutput(command) != 0) _exit(126);
      std::vector<char*> argv;
      for (const std::string& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    sink->Add(Record::Path(RecordKind::kRead, pid, read_path_));
    ExitStatus exit;
    exit.code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return exit;
  }
  int runs = 0;

 private:
  std::string read_path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

RunAndRecordOptions Options(const TestDir& dir, std::vector<RecordedCommand> commands) {
  RunAndRecordOptions o;
  o.meta_path = dir / "t.o.meta";
  o.target = "t.o";
  o.cwd = dir.path();
  o.commands = std::move(commands);
  return o;
}

TEST(RunAndRecord, WritesOutputAndFilemonSectionAndIsUpToDate) {
  TestDir dir("rr_ok");
  dir.Write("t.c", "int x;\n", 1600000000);
  FakeBackend backend(dir / "t.c");
  const std::string cmd = "echo out; echo err >&2; echo obj > t.o";
  int passthrough[2];
  ASSERT_EQ(pipe(passthrough), 0);
  RunAndRecordOptions o = Options(dir, {{cmd, {}}});
  o.passthrough_fd = passthrough[1];
  absl::StatusOr<RunAndRecordResult> r = RunAndRecord(backend, o);
  ASSERT_TRUE(r.ok()) << r.status();
  close(passthrough[1]);
  char shown[64] = {};
  EXPECT_EQ(read(passthrough[0], shown, sizeof shown), 8);
  close(passthrough[0]);
  EXPECT_EQ(std::string(shown), "out\nerr\n");
  EXPECT_FALSE(r->failed);
  EXPECT_EQ(r->output, "out\nerr\n");
  const std::string meta = Slurp(dir / "t.o.meta");
  EXPECT_TRUE(absl::StartsWith(
      meta, absl::StrCat("# Meta data file ", dir / "t.o.meta", "\nCMD ", cmd, "\nCWD ", dir.path(),
                         "\nTARGET t.o\n-- command output --\nout\nerr\n\n"
                         "-- filemon acquired metadata --\n# filemon version 5\n")))
      << meta;
  EXPECT_TRUE(absl::StrContains(meta, absl::StrCat("\nR ")));
  EXPECT_TRUE(absl::StrContains(meta, "# Bye bye\n")) << meta;

  // One Checker for the build; the commands per target.
  CheckOptions shared;
  shared.cwd = dir.path();
  absl::StatusOr<Checker> checker = Checker::Create(shared);
  ASSERT_TRUE(checker.ok());
  TargetSpec spec{"t.o", std::vector<CurrentCommand>{{cmd, true}}};
  absl::StatusOr<Decision> d = checker->Check(dir / "t.o.meta", spec);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->out_of_date) << ReasonCode(d->reason);
  spec.commands = std::vector<CurrentCommand>{{"cc -O2 t.c", true}};
  d = checker->Check(dir / "t.o.meta", spec);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason, Reason::kCmdChanged);
}

TEST(RunAndRecord, FailureWritesErrorCodeRemovesTargetAndStops) {
  TestDir dir("rr_fail");
  dir.Write("t.o", "old object\n");
  FakeBackend backend(dir / "t.c");
  absl::StatusOr<RunAndRecordResult> r =
      RunAndRecord(backend, Options(dir, {{"echo bad; exit 3", {}}, {"echo never", {}}}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->failed);
  EXPECT_EQ(r->exit.code, 3);
  EXPECT_EQ(backend.runs, 1);  // the second command did not run
  const std::string meta = Slurp(dir / "t.o.meta");
  EXPECT_TRUE(absl::StrContains(meta, "CMD echo bad; exit 3\nCMD echo never\n")) << meta;
  EXPECT_TRUE(absl::StrContains(
      meta, "-- command output --\nbad\n\n*** Error code 3\n\n-- filemon acquired metadata --\n"))
      << meta;
  EXPECT_FALSE(Exists(dir / "t.o"));
  CheckOptions shared;
  shared.cwd = dir.path();
  absl::StatusOr<Checker> checker = Checker::Create(shared);
  ASSERT_TRUE(checker.ok());
  absl::StatusOr<Decision> d = checker->Check(dir / "t.o.meta", TargetSpec{"t.o", {}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason, Reason::kTargetMissing);
}

TEST(RunAndRecord, KeepTargetOnFailureAndArgvCommands) {
  TestDir dir("rr_keep");
  dir.Write("t.o", "old object\n");
  FakeBackend backend(dir / "t.c");
  RunAndRecordOptions o = Options(dir, {{"false", {"/bin/false"}}});
  o.keep_target_on_failure = true;
  absl::StatusOr<RunAndRecordResult> r = RunAndRecord(backend, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->failed);
  EXPECT_TRUE(Exists(dir / "t.o"));
  EXPECT_TRUE(absl::StrContains(Slurp(dir / "t.o.meta"), "CMD false\n"));
}

// A command killed by signal N: bmake's compat mode writes "*** Error code N" (the signal's
// number, not a shell's 128+N).
TEST(RunAndRecord, ACommandKilledByASignalHasItsNumberAsErrorCode) {
  TestDir dir("rr_signal");
  FakeBackend backend(dir / "t.c");
  absl::StatusOr<RunAndRecordResult> r =
      RunAndRecord(backend, Options(dir, {{"kill -INT $$", {}}}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->failed);
  EXPECT_EQ(r->exit.signal, SIGINT);
  const std::string meta = Slurp(dir / "t.o.meta");
  EXPECT_TRUE(absl::StrContains(meta, "\n*** Error code 2\n")) << meta;
}

// Interrupted (the caller got a signal) after a command that succeeded: as bmake's compat mode
// (CompatInterrupt), no further command runs and the target is removed; no error is written.
TEST(RunAndRecord, AnInterruptedRunStopsAndRemovesTheTarget) {
  TestDir dir("rr_interrupted");
  dir.Write("t.o", "old object\n");
  FakeBackend backend(dir / "t.c");
  RunAndRecordOptions o = Options(dir, {{"true", {}}, {"echo never", {}}});
  o.interrupted = [] { return SIGTERM; };
  absl::StatusOr<RunAndRecordResult> r = RunAndRecord(backend, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->interrupted, SIGTERM);
  EXPECT_FALSE(r->failed);
  EXPECT_EQ(backend.runs, 1);
  EXPECT_FALSE(Exists(dir / "t.o"));
  const std::string meta = Slurp(dir / "t.o.meta");
  EXPECT_FALSE(absl::StrContains(meta, "*** Error code")) << meta;
  o.keep_target_on_failure = true;  // .PRECIOUS: kept
  dir.Write("t.o", "old object\n");
  ASSERT_TRUE(RunAndRecord(backend, o).ok());
  EXPECT_TRUE(Exists(dir / "t.o"));
}

TEST(RunAndRecord, InvalidOptions) {
  FakeBackend backend("/x");
  EXPECT_FALSE(RunAndRecord(backend, RunAndRecordOptions{}).ok());
}

}  // namespace
}  // namespace meta
}  // namespace filemon
