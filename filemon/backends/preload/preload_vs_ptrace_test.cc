// The preload and ptrace logs of the same deterministic run hold the same records (up to pids
// and the order between processes), and auto hands a statically linked program exec'd
// mid-run to ptrace without losing its records.

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

extern "C" char** environ;

namespace filemon {
namespace testing_internal {
namespace {

// "letter paths" per record (pids differ between runs), counted. F and X are compared by
// count: their pids are the only thing they hold.
std::map<std::string, int> Multiset(const TraceResult& r) {
  std::map<std::string, int> out;
  for (const OwnedRecord& rec : r.records) {
    if (rec.kind == RecordKind::kComment) continue;
    std::string line = rec.ToString();
    if (rec.kind == RecordKind::kFork) {
      line = "F";
    } else if (rec.kind == RecordKind::kExit) {
      line = absl::StrCat("X ", rec.status, " ", rec.signal);
    } else {
      size_t first = line.find(' '), second = line.find(' ', first + 1);
      line = absl::StrCat(line.substr(0, 1), line.substr(second));
    }
    // gcc's temporary files have random names: "/tmp/ccAbC123.s".
    size_t tmp = line.find("/tmp/cc");
    if (tmp != std::string::npos && line.size() >= tmp + 14) line.replace(tmp + 7, 6, "XXXXXX");
    ++out[line];
  }
  return out;
}

// The two logs of one run hold the same records (Multiset): what either recorded alone is named,
// with both logs.
void ExpectSameRecords(const TraceResult& ptrace, const TraceResult& preload) {
  const std::map<std::string, int> p = Multiset(ptrace), l = Multiset(preload);
  const std::string logs =
      absl::StrCat("\npreload log:\n", preload.log, "\nptrace log:\n", ptrace.log);
  EXPECT_EQ(Difference(p, l), "") << "ptrace recorded, preload did not" << logs;
  EXPECT_EQ(Difference(l, p), "") << "preload recorded, ptrace did not" << logs;
}

// preload_test_program (this package): posix_spawn with chdir and open file actions.
std::string SpawnActionsProgram() {
  const char* srcdir = getenv("TEST_SRCDIR");
  std::string path = absl::StrCat(srcdir != nullptr ? srcdir : ".",
                                  "/filemon/filemon/backends/preload/preload_test_program");
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

TEST(PreloadVsPtrace, SameRecordsForTheSameRun) {
  std::string dir = MakeTempDir("same");
  ASSERT_TRUE(WriteFile(dir + "/hdr.h", "#define N 3\n").ok());
  ASSERT_TRUE(
      WriteFile(dir + "/main.c", "#include \"hdr.h\"\nint main(void) { return N; }\n").ok());
  ASSERT_TRUE(WriteFile(dir + "/Makefile", "all: a b\na:\n\techo a > a\nb: a\n\tcat a > b\n").ok());
  // Everything the run does is deterministic: the same files, in the same order per process.
  const std::string script =
      "mkdir d && cd d && echo hi > x && cat x >> y && mv x z && ln z h && ln -s z s && "
      "rm h s && cd .. && rmdir d/../d/. 2>/dev/null; rm -r d && "
      "gcc -c main.c -o main.o && make -s && find . -name hdr.h -exec cat {} ';' > /dev/null && "
      "(exec 3<main.c) && mkdir sa && " +
      SpawnActionsProgram() + " spawn_actions sa o && rm sa/o && rmdir sa && " +
      TestProgram("spawn_bin") +
      " /bin/cat hdr.h > /dev/null; "
      "rm -f a b main.o; exit 3";
  if (!OnPath("gcc") || !OnPath("make")) GTEST_SKIP() << "gcc and make are needed";
  absl::StatusOr<TraceResult> ptrace = TraceCommand("ptrace", ShellCommand(script, dir), {});
  ASSERT_TRUE(ptrace.ok()) << ptrace.status();
  absl::StatusOr<TraceResult> preload = TraceCommand("preload", ShellCommand(script, dir), {});
  ASSERT_TRUE(preload.ok()) << preload.status();
  EXPECT_EQ(ptrace->exit.ShellStatus(), 3) << ptrace->log;
  EXPECT_EQ(preload->exit.ShellStatus(), 3) << preload->log;
  ExpectSameRecords(*ptrace, *preload);
}

// Runs `c` with LANG=C.UTF-8 (and no LC_*) under ptrace and under preload: the command succeeds,
// ptrace sees LC_CTYPE's data read at least `min_ctype` times, and the two logs hold the same
// records.
void ExpectSameRecordsUnderUtf8(Command c, int min_ctype) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "LC_", 3) != 0 && strncmp(*e, "LANG=", 5) != 0) env.emplace_back(*e);
  }
  env.push_back("LANG=C.UTF-8");
  c.env = env;
  absl::StatusOr<TraceResult> ptrace = TraceCommand("ptrace", c, {});
  ASSERT_TRUE(ptrace.ok()) << ptrace.status();
  absl::StatusOr<TraceResult> preload = TraceCommand("preload", c, {});
  ASSERT_TRUE(preload.ok()) << preload.status();
  EXPECT_EQ(preload->exit.ShellStatus(), 0) << preload->log;
  EXPECT_GE(Multiset(*ptrace)["R /usr/lib/locale/C.utf8/LC_CTYPE"], min_ctype) << ptrace->log;
  ExpectSameRecords(*ptrace, *preload);
}

bool HaveUtf8LocaleData() {
  struct stat st;
  return stat("/usr/lib/locale/C.utf8", &st) == 0;
}

// Locale data opened inside glibc's setlocale: through the libc window in the first process,
// and from the cache its descendants inherit.
TEST(PreloadVsPtrace, SameLocaleFilesUnderAUtf8Locale) {
  if (!HaveUtf8LocaleData()) GTEST_SKIP() << "no C.UTF-8 locale data here";
  std::string dir = MakeTempDir("locale");
  ASSERT_TRUE(WriteFile(dir + "/f", "x\n").ok());
  ExpectSameRecordsUnderUtf8(
      ShellCommand("cat f > /dev/null && ls f > /dev/null && sh -c 'cat f' > /dev/null", dir), 3);
}

// The cache for setlocale(CATEGORY, "") sequences (gcc, cc1 and as each set LC_CTYPE and
// LC_MESSAGES; binutils in the other order): a child replays what its parent's windows saw only
// for the same calls after the same earlier calls; other orders, and calls after a named
// locale, run in windows of their own. Every process's locale files match ptrace's.
TEST(PreloadVsPtrace, SameLocaleFilesForSetlocaleSequences) {
  if (!HaveUtf8LocaleData()) GTEST_SKIP() << "no C.UTF-8 locale data here";
  const std::string p = SpawnActionsProgram();
  // parent: ctype,messages -> child: the same (cache) -> messages alone (what LC_MESSAGES
  // opens depends on what came before it: here locale.alias too) -> messages,ctype (other
  // order) -> c,ctype (named locale first) -> ctype (a prefix of the first sequence) -> all.
  Command c;
  for (const char* cats : {"ctype,messages", "ctype,messages", "messages", "messages,ctype",
                           "c,ctype", "ctype", "all"}) {
    c.argv.insert(c.argv.end(), {p, "locale", cats});
  }
  c.cwd = MakeTempDir("locale_seq");
  ExpectSameRecordsUnderUtf8(c, 5);
}

// Siblings (what a shell or make starts) share the cache through the supervisor's shared
// memory: the second of each sequence replays what the first's window saw; locale files match
// ptrace's for every process.
TEST(PreloadVsPtrace, SiblingsShareTheSetlocaleCache) {
  if (!HaveUtf8LocaleData()) GTEST_SKIP() << "no C.UTF-8 locale data here";
  std::string script;
  for (const char* cats : {"ctype,messages", "ctype,messages", "messages,ctype", "messages",
                           "messages,ctype", "messages", "all", "all", "c,all"}) {
    absl::StrAppend(&script, SpawnActionsProgram(), " locale ", cats, " && ");
  }
  ExpectSameRecordsUnderUtf8(ShellCommand(script + "true", MakeTempDir("locale_siblings")), 6);
}

TEST(Auto, StaticProgramExecdMidRunMovesToPtraceWithoutLoss) {
  std::string dir = MakeTempDir("auto_static");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  std::string prog = TestProgram("static_open_bin");
  absl::StatusOr<TraceResult> r =
      TraceCommand(kAutoWithoutEbpf, ShellCommand(prog + " in out && cat out", dir), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "in")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "out")) << "preload again after it: cat\n" << r->log;
  ASSERT_EQ(r->Of(RecordKind::kExec).size(), 3u) << r->log;  // sh, the static program, cat
  // The static program's records carry the pid its parent forked (the shell's child).
  const OwnedRecord* exec = r->Of(RecordKind::kExec)[1];
  EXPECT_EQ(exec->path, prog) << r->log;
  bool forked = false;
  for (const OwnedRecord* f : r->Of(RecordKind::kFork)) forked |= f->child_pid == exec->pid;
  EXPECT_TRUE(forked) << r->log;
  for (const OwnedRecord& rec : r->records) {
    if (rec.kind == RecordKind::kRead && rec.path == "in") {
      EXPECT_EQ(rec.pid, exec->pid);
    }
  }
  EXPECT_TRUE(absl::StrContains(r->log, "traced with ptrace")) << r->log;
}

TEST(Auto, StaticCommandRunsUnderPtraceAndSaysSo) {
  std::string dir = MakeTempDir("auto_static_root");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  Command c;
  c.argv = {TestProgram("static_open_bin"), "in", "out"};
  c.cwd = dir;
  absl::StatusOr<TraceResult> r = TraceCommand(kAutoWithoutEbpf, c, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->Has(RecordKind::kRead, "in")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
  EXPECT_TRUE(absl::StrContains(r->log, "statically linked: tracing with ptrace")) << r->log;
}

// Both backends search a command's program the same way (filemon/core/find_program.h): in the
// PATH of the environment the command gets, glibc's default when it has none, never the
// caller's PATH for a command with an environment of its own.
TEST(PreloadVsPtrace, SameProgramSearch) {
  const std::string dir = MakeTempDir("callers_path");
  ASSERT_TRUE(WriteFile(dir + "/filemon_only_in_callers_path", "#!/bin/sh\nexit 0\n").ok());
  ASSERT_EQ(chmod((dir + "/filemon_only_in_callers_path").c_str(), 0755), 0);
  const char* saved = getenv("PATH");
  const std::string saved_path = saved != nullptr ? saved : "";
  setenv("PATH", dir.c_str(), 1);
  for (const char* backend : {"ptrace", "preload", "auto"}) {
    Command own_env;
    own_env.argv = {"filemon_only_in_callers_path"};
    own_env.env = std::vector<std::string>{"HOME=/"};
    absl::StatusOr<TraceResult> r = TraceCommand(backend, own_env, {});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << backend << ": " << r.status();
    Command sh = own_env;
    sh.argv = {"sh", "-c", "exit 4"};
    r = TraceCommand(backend, sh, {});
    ASSERT_TRUE(r.ok()) << backend << ": " << r.status();
    EXPECT_EQ(r->exit.ShellStatus(), 4) << backend;
  }
  setenv("PATH", saved_path.c_str(), 1);
}

// A set-user-ID program as the command stays under preload (README, "How auto decides"):
// under ptrace it would run without its privilege. A set-user-ID copy of touch(1) owned by
// nobody makes a file owned by nobody only if it kept its privilege. The log says what is
// missing: the program's own operations and those of everything it starts.
TEST(Auto, SetUserIdCommandKeepsItsPrivilegeAndTheLogSaysWhatIsMissing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a set-user-ID program of another user";
  char dir_template[] = "/tmp/filemon_setuid_XXXXXX";  // a directory nobody can reach
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  const std::string prog = dir + "/touch_as_nobody";
  ASSERT_TRUE(WriteFile(prog, "").ok());
  {
    std::ifstream in("/usr/bin/touch", std::ios::binary);
    std::ofstream(prog, std::ios::binary) << in.rdbuf();
  }
  if (chown(prog.c_str(), 65534, 65534) != 0) {
    GTEST_SKIP() << "cannot chown a file to another user here (a sandbox's user namespace)";
  }
  ASSERT_EQ(chmod(prog.c_str(), 04755), 0);
  Command c;
  c.argv = {prog, dir + "/made"};
  absl::StatusOr<TraceResult> r = TraceCommand(kAutoWithoutEbpf, c, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  struct stat made;
  ASSERT_EQ(stat((dir + "/made").c_str(), &made), 0) << r->log;
  EXPECT_EQ(made.st_uid, 65534u) << "the program ran without its privilege\n" << r->log;
  EXPECT_FALSE(absl::StrContains(r->log, "tracing with ptrace")) << r->log;
  EXPECT_TRUE(absl::StrContains(r->log, "set-user-ID")) << r->log;
  EXPECT_TRUE(absl::StrContains(r->log, "nor those of any program it starts")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, prog)) << r->log;
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
