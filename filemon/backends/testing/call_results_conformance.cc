// What a traced program's calls return is what they return untraced: a backend may read the
// program's memory only where the kernel could (a bad pointer is EFAULT, never a crash of the
// program), keeps the status words and errno values the calls set, and leaves the program's
// address space as it would be untraced. The program checks
// itself (call_results.c); each case runs with and without --probes, under which failed
// lookups are looked at.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/backend_conformance.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"

namespace filemon {
namespace testing_internal {
namespace {

// Runs call_results MODE in a fresh directory (and `extra`, if any), untraced and then traced:
// it exits 0 both times.
void ExpectCallResults(const char* mode, const std::string& extra = "") {
  for (const bool probes : {false, true}) {
    SCOPED_TRACE(absl::StrCat(mode, probes ? ", --probes" : ""));
    const std::string untraced_dir = MakeTempDir(absl::StrCat(mode, "_untraced"));
    std::vector<std::string> argv = {TestProgram("call_results_bin"), mode, untraced_dir};
    if (!extra.empty()) argv.push_back(extra);
    ASSERT_TRUE(RunsUntraced(argv, {})) << "call_results " << mode << " fails untraced";
    argv[2] = MakeTempDir(mode);
    Command c;
    c.argv = argv;
    TraceOptions options;
    options.probes = probes;
    absl::StatusOr<TraceResult> r = TraceCommand(BackendConformanceTest::GetParam(), c, options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit.ShellStatus(), 0)
        << "status " << r->exit.ShellStatus() << " (a check's line, or 128+signal)\n"
        << r->log;
  }
}

// openat2 with an unreadable struct open_how or path, clone3 with unreadable arguments, an
// open of an unreadable path, and a reaped child's status stored to an unwritable word.
TEST_P(BackendConformanceTest, BadPointersFailWithEfault) { ExpectCallResults("faults"); }

// execve, execle, execvpe, posix_spawn, posix_spawnp, execveat and fexecve given an
// unreadable environment, environment string, argv or path fail as untraced (EFAULT), for a
// dynamically and a statically linked program (which auto hands to its ptrace helper), and
// fexecve and execveat with a bad descriptor or flags fail with libc's and the kernel's errno.
TEST_P(BackendConformanceTest, ExecsOfUnreadableArgumentsFailAsUntraced) {
  ExpectCallResults("execfaults", TestProgram("static_open_bin"));
}

// waitpid, wait4 and raw wait4 with WNOHANG that find no child to reap leave the status word.
TEST_P(BackendConformanceTest, WaitWithoutAChildToReapLeavesTheStatus) {
  ExpectCallResults("nohang");
}

// Failed opens, path calls, execs, spawns, waits and closes keep their errno; successful ones
// leave errno alone.
TEST_P(BackendConformanceTest, CallsKeepTheirErrno) { ExpectCallResults("errno"); }

// system(3), popen(3) and pclose(3) keep glibc's behaviour (the signals system() ignores and
// blocks, popen's streams and modes) and keep what other threads do to the environment
// meanwhile (shell_calls.c).
TEST_P(BackendConformanceTest, ShellCallsKeepOtherThreadsEnvironment) {
  Command c;
  c.argv = {TestProgram("shell_calls_bin")};
  ASSERT_TRUE(RunsUntraced(c.argv, {})) << "shell_calls fails untraced";
  absl::StatusOr<TraceResult> r = TraceCommand(BackendConformanceTest::GetParam(), c, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << "the line of the check that failed\n" << r->log;
}

// 64 vfork children in turn each exec with 300 arguments a script without "#!" (execvp runs it
// with /bin/sh) and a static program (auto's helper runs it): the parent, whose memory each
// child shares until its exec, does not grow (vfork_long_exec.c).
TEST_P(BackendConformanceTest, VforkedLongExecsLeaveNothingInTheParent) {
  const std::string dir = MakeTempDir("vfork_long_exec");
  Command c;
  c.argv = {TestProgram("vfork_long_exec_bin"), dir, TestProgram("static_open_bin")};
  absl::StatusOr<TraceResult> r = TraceCommand(BackendConformanceTest::GetParam(), c, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << "1: the parent grew; 2-4: a child failed\n" << r->log;
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
