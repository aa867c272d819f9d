#include "filemon/backends/testing/backend_conformance.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"

namespace filemon {
namespace testing_internal {
namespace {

absl::StatusOr<TraceResult> Trace(const Command& command, bool absolute = false) {
  TraceOptions options;
  options.absolute_paths = absolute;
  return TraceCommand(BackendConformanceTest::GetParam(), command, options);
}

TEST_P(BackendConformanceTest, ShellFileOperations) {
  std::string dir = MakeTempDir("shell");
  absl::StatusOr<TraceResult> r = Trace(ShellCommand(
      "mkdir d && cd d && echo hi > a && cat a >> b && mv a c && ln c h && ln -s c s && "
      "rm s h && cd .. && rm -r d",
      dir));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  // The shell's own operations: cd is chdir, redirections are opens in the shell process.
  int64_t shell = r->Of(RecordKind::kExec)[0]->pid;
  bool chdir_d = false, write_a = false, append_b = false, read_a = false;
  for (const OwnedRecord& rec : r->records) {
    // Shells may chdir() to the path they computed (dash passes it absolute).
    chdir_d |= rec.kind == RecordKind::kChdir && (rec.path == "d" || rec.path == dir + "/d") &&
               rec.pid == shell;
    write_a |= rec.kind == RecordKind::kWrite && rec.path == "a" && rec.pid == shell;
    append_b |= rec.kind == RecordKind::kWrite && rec.path == "b" && rec.pid == shell;
    read_a |= rec.kind == RecordKind::kRead && rec.path == "a" && rec.pid != shell;  // cat
  }
  EXPECT_TRUE(chdir_d && write_a && append_b && read_a) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kMove, "a", "c")) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kLink, "c", "h")) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kLink, "c", "s")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kDelete, "s")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kDelete, "h")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kChdir, "..") || r->Has(RecordKind::kChdir, dir)) << r->log;
  // rm -r removes with unlinkat(dirfd, ...) / rmdir: the prefix makes the paths resolvable.
  bool removed_dir = false;
  for (const OwnedRecord& rec : r->records) {
    removed_dir |= rec.kind == RecordKind::kDelete && (rec.path == "d" || rec.path == dir + "/d");
  }
  EXPECT_TRUE(removed_dir) << r->log;
}

TEST_P(BackendConformanceTest, ProgramThatClosesAndReopensItsStandardDescriptors) {
  std::string dir = MakeTempDir("stdio");
  absl::StatusOr<TraceResult> r = Trace(ShellCommand(
      "exec 0<&- 1>&- 2>&-; exec 1>out 2>err 0<out; echo x; cat >/dev/null; echo y > last", dir));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "err")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "out")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "last")) << r->log;
}

TEST_P(BackendConformanceTest, FailedOpenIsNotLogged) {
  std::string dir = MakeTempDir("failed");
  absl::StatusOr<TraceResult> r =
      Trace(ShellCommand("cat missing-file 2>/dev/null; rm missing-too 2>/dev/null; true", dir));
  ASSERT_TRUE(r.ok()) << r.status();
  for (const OwnedRecord& rec : r->records) {
    EXPECT_EQ(rec.path.find("missing"), std::string::npos) << rec.ToString();
  }
}

TEST_P(BackendConformanceTest, ReadWriteOpenIsReadThenWrite) {
  std::string dir = MakeTempDir("rdwr");
  absl::StatusOr<TraceResult> r = Trace(ShellCommand("echo x > f && exec 3<>f", dir));
  ASSERT_TRUE(r.ok()) << r.status();
  // <> is open(O_RDWR|O_CREAT): R then W, adjacent, same pid.
  bool found = false;
  for (size_t i = 0; i + 1 < r->records.size(); ++i) {
    const OwnedRecord& a = r->records[i];
    const OwnedRecord& b = r->records[i + 1];
    found |= a.kind == RecordKind::kRead && a.path == "f" && b.kind == RecordKind::kWrite &&
             b.path == "f" && a.pid == b.pid;
  }
  EXPECT_TRUE(found) << r->log;
}

TEST_P(BackendConformanceTest, GccReadsTheLocalHeaderAndWritesTheObject) {
  if (!OnPath("gcc")) GTEST_SKIP() << "gcc is not installed";
  std::string dir = MakeTempDir("gcc");
  ASSERT_TRUE(WriteFile(dir + "/local.h", "#define VALUE 42\n").ok());
  ASSERT_TRUE(
      WriteFile(dir + "/main.c", "#include \"local.h\"\nint main(void){return VALUE;}\n").ok());
  absl::StatusOr<TraceResult> r = Trace(ShellCommand("gcc -c main.c -o main.o", dir));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "main.c")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "local.h")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "main.o")) << r->log;
  // sh, gcc, cc1, as: several processes, each announced by F before its records.
  EXPECT_GE(r->Of(RecordKind::kFork).size(), 2u) << r->log;
  EXPECT_GE(r->Pids().size(), 3u) << r->log;
  std::vector<int64_t> announced = {r->records.front().pid};
  for (const OwnedRecord& rec : r->records) {
    if (rec.kind == RecordKind::kFork) announced.push_back(rec.child_pid);
    if (rec.kind == RecordKind::kComment) continue;
    EXPECT_NE(std::find(announced.begin(), announced.end(), rec.pid), announced.end())
        << "record before its F: " << rec.ToString() << "\n"
        << r->log;
  }
}

TEST_P(BackendConformanceTest, MakeBuildsTwoTargets) {
  if (!OnPath("make")) GTEST_SKIP() << "make is not installed";
  std::string dir = MakeTempDir("make");
  ASSERT_TRUE(WriteFile(dir + "/Makefile",
                        "all: one two\none: src\n\tcat src > one\ntwo: src\n\tcp src two\n")
                  .ok());
  ASSERT_TRUE(WriteFile(dir + "/src", "data\n").ok());
  Command c;
  c.argv = {"make", "-s"};
  c.cwd = dir;
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "Makefile")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "one")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "two")) << r->log;
  EXPECT_GE(r->Count(RecordKind::kRead, "src"), 2) << r->log;
}

TEST_P(BackendConformanceTest, StaticBinary) {
  if (GetParam() == "preload") {
    GTEST_SKIP() << "a static binary is invisible to an interposer (auto hands it to ptrace; "
                    "preload says so in the log: PreloadBackend.StaticProgramIsNeverSilentlyLost)";
  }
  std::string dir = MakeTempDir("static");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  Command c;
  c.argv = {TestProgram("static_open_bin"), "in", "out"};
  c.cwd = dir;
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, TestProgram("static_open_bin"))) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "in")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
}

// Whether this kernel runs i386 system calls made by a 64-bit process (`int $0x80`): not when
// it was built or booted without IA32 emulation (the instruction then faults).
bool KernelRunsI386SystemCalls(const std::string& dir) {
  const std::string program = TestProgram("int80_open_bin");
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) == 0) {
      execl(program.c_str(), program.c_str(), "in", "probe_out", static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && !WIFSIGNALED(status);
}

// i386 system calls of a 64-bit process are read with the i386 numbers, not the 64-bit ones.
TEST_P(BackendConformanceTest, I386SystemCallsOfA64BitProcess) {
  if (GetParam() == "preload" || GetParam() == kAutoWithoutEbpf) {
    GTEST_SKIP() << "`int $0x80` bypasses libc: an interposer cannot see it";
  }
  std::string dir = MakeTempDir("int80");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  if (!KernelRunsI386SystemCalls(dir)) {
    GTEST_SKIP() << "this kernel has no IA32 emulation: int $0x80 faults even untraced";
  }
  Command c;
  c.argv = {TestProgram("int80_open_bin"), "in", "out"};
  c.cwd = dir;
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "in")) << r->log;    // i386 open (5)
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;  // i386 creat (8)
}

TEST_P(BackendConformanceTest, ThreadsAreFoldedIntoTheirProcess) {
  std::string dir = MakeTempDir("threads");
  Command c;
  c.argv = {TestProgram("threads_bin"), dir, "8"};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  int64_t pid = r->Of(RecordKind::kExec)[0]->pid;
  for (int i = 0; i < 8; ++i) {
    std::string path = absl::StrCat(dir, "/thread", i);
    EXPECT_EQ(r->Count(RecordKind::kWrite, path), 1) << path << "\n" << r->log;
    EXPECT_EQ(r->Count(RecordKind::kRead, path), 1) << path << "\n" << r->log;
  }
  EXPECT_EQ(r->Pids(), std::vector<int64_t>{pid}) << r->log;
  EXPECT_TRUE(r->Of(RecordKind::kFork).empty()) << r->log;
  EXPECT_EQ(r->Of(RecordKind::kExit).size(), 1u) << r->log;
}

TEST_P(BackendConformanceTest, ExecFromANonLeaderThreadKeepsTheProcessId) {
  Command c;
  c.argv = {TestProgram("thread_exec_bin"), "/bin/cat", "/dev/null"};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  std::vector<const OwnedRecord*> execs = r->Of(RecordKind::kExec);
  ASSERT_EQ(execs.size(), 2u) << r->log;
  EXPECT_EQ(execs[1]->path, "/bin/cat") << r->log;
  EXPECT_EQ(r->Pids(), std::vector<int64_t>{execs[0]->pid}) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "/dev/null")) << r->log;
  EXPECT_EQ(r->Of(RecordKind::kExit).size(), 1u) << r->log;
}

TEST_P(BackendConformanceTest, PosixSpawnAndVfork) {
  Command c;
  c.argv = {TestProgram("spawn_bin"), "/bin/cat", "/dev/null"};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_EQ(r->Of(RecordKind::kFork).size(), 2u) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kExec, "/bin/cat"), 2) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kRead, "/dev/null"), 2) << r->log;
  EXPECT_EQ(r->Of(RecordKind::kExit).size(), 3u) << r->log;
}

TEST_P(BackendConformanceTest, FindExecUsesDirfds) {
  std::string dir = MakeTempDir("find");
  ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir + "/sub/leaf", "x").ok());
  Command c;
  c.argv = {"find", ".", "-name", "leaf", "-exec", "cat", "{}", ";"};
  c.cwd = dir;
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  // find opens "sub" relative to the fd of "."; FreeBSD's A clue, then the prefixed path.
  EXPECT_TRUE(r->Has(RecordKind::kAt, "sub")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, dir + "/sub")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "./sub/leaf")) << r->log;
  // fchdir back to the start directory before exec: C with the resolved directory.
  EXPECT_TRUE(r->Has(RecordKind::kChdir, dir)) << r->log;
}

TEST_P(BackendConformanceTest, AtCallsGetTheirDirectoryPrefix) {
  std::string dir = MakeTempDir("at");
  Command c;
  c.argv = {TestProgram("at_calls_bin"), dir};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  const std::string f = dir + "/f", g = dir + "/g", h = dir + "/h", s = dir + "/s";
  EXPECT_EQ(r->Count(RecordKind::kAt, "f"), 2) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kWrite, f), 2) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kRead, f), 1) << r->log;
  EXPECT_FALSE(r->Has(RecordKind::kRead, dir + "/missing")) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kMove, f, g)) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kLink, g, h)) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kLink, "g", s)) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kDelete, h)) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kDelete, s)) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kDelete, dir + "/sub")) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kMove, g, dir + "/k")) << r->log;
  char bin[PATH_MAX];
  ASSERT_NE(realpath("/bin", bin), nullptr);
  EXPECT_TRUE(r->Has(RecordKind::kExec, absl::StrCat(bin, "/true"))) << r->log;  // execveat
  // The A clue immediately precedes its R/W.
  for (size_t i = 0; i < r->records.size(); ++i) {
    if (r->records[i].kind != RecordKind::kAt) continue;
    ASSERT_LT(i + 1, r->records.size());
    EXPECT_EQ(r->records[i + 1].path, f) << r->log;
  }
}

TEST_P(BackendConformanceTest, AbsoluteOptionResolvesEveryPath) {
  std::string dir = MakeTempDir("absolute");
  absl::StatusOr<TraceResult> r =
      Trace(ShellCommand("mkdir d && cd d && echo x > a && mv a b && cat b > /dev/null", dir),
            /*absolute=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->Has(RecordKind::kChdir, dir + "/d")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, dir + "/d/a")) << r->log;
  EXPECT_TRUE(r->HasTwo(RecordKind::kMove, dir + "/d/a", dir + "/d/b")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, dir + "/d/b")) << r->log;
  for (const OwnedRecord& rec : r->records) {
    if (HasPath(rec.kind)) {
      EXPECT_EQ(rec.path.substr(0, 1), "/") << rec.ToString();
    }
    if (HasTwoPaths(rec.kind)) {
      EXPECT_EQ(rec.path2.substr(0, 1), "/") << rec.ToString();
    }
  }
}

// Known bugs of one backend found by QA, with the reason; the fix deletes its entry.
struct KnownBug {
  const char* backend;
  const char* test;
  const char* reason;
};
// An entry reads {"preload", "AbsoluteOptionWritesNoAtClue", "<reason, who fixes it>"}.
constexpr std::array<KnownBug, 0> kKnownBugs{};

void SkipIfKnownBug(absl::string_view test) {
  for (const KnownBug& bug : kKnownBugs) {
    if (BackendConformanceTest::GetParam() == bug.backend && test == bug.test) {
      GTEST_SKIP() << bug.backend << ": " << bug.reason;
    }
  }
}

// With --absolute every path is resolved, so the *at calls need no `A` clue (a relative path)
// and none is written.
TEST_P(BackendConformanceTest, AbsoluteOptionWritesNoAtClue) {
  SkipIfKnownBug("AbsoluteOptionWritesNoAtClue");
  if (::testing::Test::IsSkipped()) return;
  std::string dir = MakeTempDir("at_absolute");
  Command c;
  c.argv = {TestProgram("at_calls_bin"), dir};
  absl::StatusOr<TraceResult> r = Trace(c, /*absolute=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kWrite, dir + "/f"), 2) << r->log;
  EXPECT_TRUE(r->Of(RecordKind::kAt).empty()) << r->log;
}

// A dirfd-relative "./f" or "." is joined to the directory without the "./" (as the kernel
// would name the file): "DIR/f" and "DIR", not "DIR/./f" and "DIR/."; with --absolute the same
// holds for paths relative to the cwd.
TEST_P(BackendConformanceTest, DotRelativePathsAreJoinedWithoutTheDot) {
  SkipIfKnownBug("DotRelativePathsAreJoinedWithoutTheDot");
  if (::testing::Test::IsSkipped()) return;
  const std::string dir = MakeTempDir("dot");
  ASSERT_TRUE(WriteFile(dir + "/f", "x").ok());
  Command c;
  c.argv = {TestProgram("dot_paths_bin"), dir};
  for (bool absolute : {false, true}) {
    SCOPED_TRACE(absolute ? "--absolute" : "default");
    absl::StatusOr<TraceResult> r = Trace(c, absolute);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
    EXPECT_EQ(r->Count(RecordKind::kRead, dir + "/f"), absolute ? 2 : 1) << r->log;
    EXPECT_EQ(r->Count(RecordKind::kRead, dir), 2) << r->log;  // the open of DIR, then "."
    EXPECT_FALSE(r->Has(RecordKind::kRead, dir + "/./f")) << r->log;
    EXPECT_FALSE(r->Has(RecordKind::kRead, dir + "/.")) << r->log;
  }
}

TEST_P(BackendConformanceTest, ProcessKilledBySignal) {
  absl::StatusOr<TraceResult> r = Trace(ShellCommand("sh -c 'kill -KILL $$'; kill -TERM $$"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.signal, SIGTERM) << r->log;
  EXPECT_EQ(r->exit.ShellStatus(), 128 + SIGTERM);
  std::vector<const OwnedRecord*> exits = r->Of(RecordKind::kExit);
  ASSERT_EQ(exits.size(), 2u) << r->log;
  EXPECT_EQ(exits[0]->signal, SIGKILL) << r->log;
  EXPECT_EQ(exits[0]->status, 0) << r->log;
  EXPECT_EQ(exits[1]->signal, SIGTERM) << r->log;
}

TEST_P(BackendConformanceTest, ExitStatusIsPropagated) {
  absl::StatusOr<TraceResult> r = Trace(ShellCommand("exit 7"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.code, 7);
  EXPECT_EQ(r->exit.signal, 0);
  std::vector<const OwnedRecord*> exits = r->Of(RecordKind::kExit);
  ASSERT_EQ(exits.size(), 1u) << r->log;
  EXPECT_EQ(exits[0]->status, 7);
}

TEST_P(BackendConformanceTest, CannotStartCommandIsAnError) {
  Command c;
  c.argv = {"/nonexistent/program"};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/program"), absl::string_view::npos)
      << r.status();
}

// The kernel reports a script's missing interpreter as ENOENT of the script, which exists: the
// message names the interpreter, not only the script.
TEST_P(BackendConformanceTest, MissingInterpreterIsNamed) {
  std::string dir = MakeTempDir("interp");
  ASSERT_TRUE(WriteFile(dir + "/x.sh", "#!/nonexistent/sh -e\necho hi\n").ok());
  ASSERT_EQ(chmod((dir + "/x.sh").c_str(), 0755), 0);
  Command c;
  c.argv = {"./x.sh"};
  c.cwd = dir;
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(
                "execve(./x.sh): its interpreter /nonexistent/sh: No such file or directory"),
            absl::string_view::npos)
      << r.status();
}

TEST_P(BackendConformanceTest, ThousandShortLivedChildrenLoseNoRecord) {
  std::string dir = MakeTempDir("many");
  ASSERT_TRUE(WriteFile(dir + "/f", "").ok());
  // `read` is a builtin: each child is a subshell that opens f once, via the shell's fork.
  absl::StatusOr<TraceResult> r =
      Trace(ShellCommand("i=0; while [ $i -lt 1000 ]; do (exec 3<f); i=$((i+1)); done; wait", dir));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0);
  EXPECT_EQ(r->Of(RecordKind::kFork).size(), 1000u);
  EXPECT_EQ(r->Count(RecordKind::kRead, "f"), 1000);
  // Every child exits once, and every F has its X.
  std::map<int64_t, int> exits;
  for (const OwnedRecord* x : r->Of(RecordKind::kExit)) ++exits[x->pid];
  EXPECT_EQ(exits.size(), 1001u);
  for (const OwnedRecord* f : r->Of(RecordKind::kFork)) EXPECT_EQ(exits[f->child_pid], 1);
}

// Every successful file operation strace sees is in our log, and nothing strace did not see.
TEST_P(BackendConformanceTest, AgreesWithStrace) {
  if (!OnPath("strace")) GTEST_SKIP() << "strace is not installed (Debian package strace)";
  struct Case {
    const char* name;
    std::vector<std::string> argv;
  };
  std::string dir = MakeTempDir("cross");
  ASSERT_TRUE(WriteFile(dir + "/in", "x\n").ok());
  ASSERT_EQ(mkdir((dir + "/tree").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir + "/tree/leaf", "x").ok());
  const Case kCases[] = {
      {"shell",
       {"/bin/sh", "-c",
        "cat in > o1 && mv o1 o2 && ln o2 o3 && ln -s o2 o4 && rm o3 o4 && "
        "mkdir dd && cd dd && cat ../in >> ../o2 && cd .. && rmdir dd && rm o2"}},
      {"at_calls", {TestProgram("at_calls_bin"), "atdir"}},
      {"find", {"find", "tree", "-name", "leaf", "-exec", "/bin/cat", "{}", ";"}},
      {"static", {TestProgram("static_open_bin"), "in", "static_out"}},
      {"spawn", {TestProgram("spawn_bin"), "/bin/cat", "in"}},
      {"threads", {TestProgram("threads_bin"), "atdir", "6"}},
      // -pipe: no randomly named temporary files, so that both runs make the same calls.
      {"gcc", {"gcc", "-pipe", "-c", "main.c", "-o", "main.o"}},
      {"make", {"make", "-s", "one", "two"}},
  };
  ASSERT_TRUE(WriteFile(dir + "/local.h", "#define VALUE 42\n").ok());
  ASSERT_TRUE(
      WriteFile(dir + "/main.c", "#include \"local.h\"\nint main(void){return VALUE;}\n").ok());
  ASSERT_TRUE(WriteFile(dir + "/Makefile", "one: in\n\tcat in > one\ntwo: in\n\tcp in two\n").ok());
  const std::string cleanup =
      absl::StrCat("cd '", dir, "' && rm -rf atdir static_out main.o one two");
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    if (GetParam() == "preload" && std::string(c.name) == "static") continue;  // see StaticBinary
    if ((c.argv[0] == "gcc" || c.argv[0] == "make") && !OnPath(c.argv[0])) continue;
    ASSERT_EQ(mkdir((dir + "/atdir").c_str(), 0755), 0);
    Command command;
    command.argv = c.argv;
    command.cwd = dir;
    absl::StatusOr<std::vector<OwnedRecord>> expected = StraceFileRecords(command);
    ASSERT_TRUE(expected.ok()) << expected.status();
    // strace's run changed the tree; undo it so that the traced run sees the same start.
    ASSERT_EQ(system(cleanup.c_str()), 0);
    ASSERT_EQ(mkdir((dir + "/atdir").c_str(), 0755), 0);
    absl::StatusOr<TraceResult> r = Trace(command);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(system(cleanup.c_str()), 0);
    // Compare as multisets of "letter paths", pids aside (they differ between the runs).
    auto key = [](const OwnedRecord& rec) {
      std::string k = rec.ToString();
      size_t first = k.find(' '), second = k.find(' ', first + 1);
      return absl::StrCat(k.substr(0, 1), k.substr(second));
    };
    std::map<std::string, int> ours, theirs;
    for (const OwnedRecord& rec : r->records) {
      if (rec.kind == RecordKind::kFork || rec.kind == RecordKind::kExit ||
          rec.kind == RecordKind::kComment) {
        continue;
      }
      ++ours[key(rec)];
    }
    for (const OwnedRecord& rec : *expected) ++theirs[key(rec)];
    std::vector<std::string> missing, extra;
    for (const auto& [k, n] : theirs) {
      if (ours[k] < n) missing.push_back(absl::StrCat(k, " x", n - ours[k]));
    }
    for (const auto& [k, n] : ours) {
      if (theirs[k] < n) extra.push_back(absl::StrCat(k, " x", n - theirs[k]));
    }
    EXPECT_TRUE(missing.empty()) << "strace saw, we did not:\n"
                                 << absl::StrJoin(missing, "\n") << "\nour log:\n"
                                 << r->log;
    EXPECT_TRUE(extra.empty()) << "we logged, strace did not see:\n"
                               << absl::StrJoin(extra, "\n") << "\nour log:\n"
                               << r->log;
  }
}

// `argv` with this process's environment (as the untraced runs had it).
Command WithOurEnvironment(std::vector<std::string> argv) {
  Command c;
  c.argv = std::move(argv);
  c.env = OurEnvironment();
  return c;
}

// The run succeeded and /bin/true is in its log: traced, or run untraced with a comment that
// says so; never a silent loss.
void ExpectTrueRan(const absl::StatusOr<TraceResult>& r) {
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, "/bin/true")) << r->log;
}

// A command line as long as the kernel takes untraced (argv and environment within ARG_MAX)
// runs traced too: a backend may not need room in it.
TEST_P(BackendConformanceTest, CommandLineAtTheKernelsLimitRuns) {
  SkipIfKnownBug("CommandLineAtTheKernelsLimitRuns");
  if (::testing::Test::IsSkipped()) return;
  auto command = [](size_t n) {
    std::vector<std::string> argv(n + 1, std::string(99, 'x'));
    argv[0] = "/bin/true";
    return argv;
  };
  const size_t n = MostArgumentsThatRun(command, OurEnvironment());
  ASSERT_GT(n, 0u);
  ExpectTrueRan(Trace(WithOurEnvironment(command(n))));
}

// So does an exec or a posix_spawn that a traced process makes at the kernel's limit, with
// the environment it inherited.
TEST_P(BackendConformanceTest, ExecAtTheKernelsLimitInTheTreeRuns) {
  SkipIfKnownBug("ExecAtTheKernelsLimitInTheTreeRuns");
  if (::testing::Test::IsSkipped()) return;
  for (const char* mode : {"exec", "spawn"}) {
    SCOPED_TRACE(mode);
    auto command = [mode](size_t n) {
      return std::vector<std::string>{TestProgram("long_exec_bin"), mode, absl::StrCat(n), "99",
                                      "/bin/true"};
    };
    const size_t n = MostArgumentsThatRun(command, OurEnvironment());
    ASSERT_GT(n, 0u);
    ExpectTrueRan(Trace(WithOurEnvironment(command(n))));
  }
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
