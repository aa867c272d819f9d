// `auto` on a host where ebpf can run (root, outside Bazel's sandbox: this test is tagged
// no-sandbox): a run is traced with ebpf and its log says so first; `AutoEbpf::kNever` keeps
// preload with its ptrace hand-off; a user who is not root never gets ebpf. Where ebpf cannot
// run, the cases that need it skip with the reason.

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {
namespace {

constexpr absl::string_view kEbpfChosen = " auto: tracing with ebpf: root";

// A statically linked program between two dynamically linked ones: under preload's auto it
// would be handed to ptrace mid-run.
Command StaticBetweenDynamic(std::string* dir) {
  *dir = MakeTempDir("auto");
  EXPECT_TRUE(WriteFile(*dir + "/in", "x").ok());
  return ShellCommand(TestProgram("static_open_bin") + " in out && cat out", *dir);
}

class AutoAsRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "auto prefers ebpf only for root";
    const std::string refusal = HostRefusal("ebpf");
    if (!refusal.empty()) GTEST_SKIP() << "ebpf cannot run here: " << refusal;
  }
};

TEST_F(AutoAsRoot, RunsAreTracedWithEbpfAndTheLogSaysSoFirst) {
  std::string dir;
  absl::StatusOr<TraceResult> r = TraceCommand("auto", StaticBetweenDynamic(&dir), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  ASSERT_FALSE(r->records.empty());
  EXPECT_EQ(r->records[0].kind, RecordKind::kComment) << r->log;
  EXPECT_TRUE(absl::StartsWith(r->records[0].path, kEbpfChosen)) << r->log;
  // The static program is seen in place: no hand-off, nothing but ebpf's records.
  EXPECT_TRUE(r->Has(RecordKind::kRead, "in")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, "out")) << r->log;
  EXPECT_FALSE(absl::StrContains(r->log, "ptrace")) << r->log;
}

TEST_F(AutoAsRoot, WithoutEbpfAStaticProgramIsHandedToPtrace) {
  std::string dir;
  absl::StatusOr<TraceResult> r = TraceCommand(kAutoWithoutEbpf, StaticBetweenDynamic(&dir), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
  EXPECT_FALSE(absl::StrContains(r->log, "tracing with ebpf")) << r->log;
  EXPECT_TRUE(absl::StrContains(r->log, "traced with ptrace")) << r->log;
}

// As `nobody`, `auto` is what it was before ebpf: its log never says ebpf (the interposer may
// not be reachable by nobody, in which case the run is ptrace's, and the log says that).
TEST_F(AutoAsRoot, NotRootNeverGetsEbpf) {
  const std::string log = MakeTempDir("auto_nobody") + "/log";
  ASSERT_EQ(chmod(log.substr(0, log.rfind('/')).c_str(), 0777), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeAutoBackend();
    if (!backend.ok()) _exit(3);
    CollectingSink sink;
    Command command;
    command.argv = {"/bin/true"};
    if (!(*backend)->Run(command, {}, &sink).ok()) _exit(4);
    for (const OwnedRecord& r : sink.records()) {
      if (absl::StrContains(r.path, "ebpf")) _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot switch to nobody here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the log names ebpf; 3, 4: auto failed as nobody";
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
