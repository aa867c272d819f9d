// What a traced program's calls return is what they return untraced: a backend may read the
// program's memory only where the kernel could (a bad pointer is EFAULT, never a crash of the
// program), and keeps the status words and errno values the calls set. The program checks
// itself (call_results.c); each case runs with and without --probes, under which failed
// lookups are looked at.

#include <string>

#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/backend_conformance.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"

namespace filemon {
namespace testing_internal {
namespace {

// Runs call_results MODE in a fresh directory, untraced and then traced: it exits 0 both times.
void ExpectCallResults(const char* mode) {
  for (const bool probes : {false, true}) {
    SCOPED_TRACE(absl::StrCat(mode, probes ? ", --probes" : ""));
    const std::string untraced_dir = MakeTempDir(absl::StrCat(mode, "_untraced"));
    ASSERT_TRUE(RunsUntraced({TestProgram("call_results_bin"), mode, untraced_dir}, {}))
        << "call_results " << mode << " fails untraced";
    const std::string dir = MakeTempDir(mode);
    Command c;
    c.argv = {TestProgram("call_results_bin"), mode, dir};
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

// waitpid, wait4 and raw wait4 with WNOHANG that find no child to reap leave the status word.
TEST_P(BackendConformanceTest, WaitWithoutAChildToReapLeavesTheStatus) {
  ExpectCallResults("nohang");
}

// Failed opens, path calls, execs, spawns, waits and closes keep their errno; successful ones
// leave errno alone.
TEST_P(BackendConformanceTest, CallsKeepTheirErrno) { ExpectCallResults("errno"); }

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
