// When the process that runs the trace dies (kill -9 of filemon), the traced programs end at
// their next record, as ptrace's tracees do with PTRACE_O_EXITKILL (README, "The preload backend
// and auto"). Here the program is one auto hands to ptrace: statically linked, traced by the
// hand-off helper, making a record every 50 ms.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::ShellCommand;
using testing_internal::TestProgram;
using testing_internal::TraceCommand;
using testing_internal::WriteFile;

// Bugs found by QA and owned by the preload backend's work: the test is skipped with the
// reason until the fix lands (then delete the entry).
constexpr const char* kKnownBug =
    "auto: the hand-off helper keeps tracing (and its program keeps running to its end) after "
    "the supervisor died: its forwarded records fail without ending it (QA report, preload "
    "owner)";

// The state letter of /proc/PID/stat, or 0 if the process is gone.
char State(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : 0;
}

TEST(TracerDeath, HandedOffProgramEndsWhenTheTracerIsKilled) {
  GTEST_SKIP() << kKnownBug;
  const std::string dir = MakeTempDir("tracer_death");
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  const std::string pidfile = dir + "/pid", done = dir + "/done";
  const pid_t tracer = fork();
  ASSERT_GE(tracer, 0);
  if (tracer == 0) {
    (void)TraceCommand("auto",
                       ShellCommand(absl::StrCat(TestProgram("static_loop_bin"), " ", pidfile, " ",
                                                 dir, "/in ", done, "; echo after")),
                       TraceOptions());
    _exit(0);
  }
  int pid = 0;
  for (int i = 0; i < 200 && pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream(pidfile) >> pid;
  }
  kill(tracer, SIGKILL);
  waitpid(tracer, nullptr, 0);
  ASSERT_NE(pid, 0) << "the static program never started";
  char state = State(pid);
  for (int i = 0; i < 40 && state != 0 && state != 'Z'; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state = State(pid);
  }
  if (state != 0 && state != 'Z') kill(pid, SIGKILL);  // leave nothing running
  EXPECT_TRUE(state == 0 || state == 'Z')
      << "pid " << pid << " still runs (state " << state << ") 2 s after its tracer died";
}

}  // namespace
}  // namespace filemon
