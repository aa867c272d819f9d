// The kernel's order of F and X (filemon/core/tree_order.h) on the process trees where a
// backend that learns of a fork late gets it wrong: parents that exit as soon as they created a
// child, posix_spawn, vfork, threads and signal handlers that fork, and a record too large for
// one atomic pipe write. Each case runs many times since the bugs are races. TraceCommand fails
// on any log out of order; each case also checks that the records it expects are there.

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/backend_conformance.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"

namespace filemon {
namespace testing_internal {
namespace {

constexpr int kRuns = 20;

#define SKIP_IF_KNOWN_ORDER_BUG()                                  \
  if (const char* why = KnownOrderBug(GetParam()); why != nullptr) \
  GTEST_SKIP() << GetParam() << ": " << why

// A fresh directory holding "hdr", the file every child reads after its chdir.
std::string DirWithHeader(absl::string_view name) {
  std::string dir = MakeTempDir(name);
  EXPECT_TRUE(WriteFile(dir + "/hdr", "#define X 1\n").ok());
  return dir;
}

absl::StatusOr<TraceResult> Trace(const Command& command) {
  return TraceCommand(BackendConformanceTest::GetParam(), command, {});
}

bool HasRecord(const TraceResult& r, RecordKind kind, int64_t pid, absl::string_view path) {
  return std::any_of(r.records.begin(), r.records.end(), [&](const OwnedRecord& rec) {
    return rec.kind == kind && rec.pid == pid && rec.path == path;
  });
}

// The F of the process that read "hdr" (the orphan's cat) names the process that exec'd
// static_orphan_exec (its creator).
void ExpectOrphanNamesTheStaticProgram(const TraceResult& r) {
  int64_t creator = 0, reader = 0;
  for (const OwnedRecord& rec : r.records) {
    if (rec.kind == RecordKind::kExec && absl::EndsWith(rec.path, "/static_orphan_exec_bin")) {
      creator = rec.pid;
    }
    if (rec.kind == RecordKind::kRead && rec.path == "hdr") reader = rec.pid;
  }
  ASSERT_NE(creator, 0) << r.log;
  const std::vector<const OwnedRecord*> forks = r.Of(RecordKind::kFork);
  const bool named = std::any_of(forks.begin(), forks.end(), [&](const OwnedRecord* f) {
    return f->pid == creator && f->child_pid == reader;
  });
  EXPECT_TRUE(named) << "no F " << creator << " " << reader << "\n" << r.log;
}

// Runs order_cases MODE DIR: `children` processes are created, each announced by an F and each
// doing chdir(DIR) then opening "hdr" (itself or through /bin/cat).
void RunOrderCase(const char* mode, size_t children) {
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE(absl::StrCat(mode, ", run ", run));
    const std::string dir = DirWithHeader(mode);
    Command c;
    c.argv = {TestProgram("order_cases_bin"), mode, dir};
    absl::StatusOr<TraceResult> r = Trace(c);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
    std::vector<const OwnedRecord*> forks = r->Of(RecordKind::kFork);
    ASSERT_EQ(forks.size(), children) << r->log;
    for (const OwnedRecord* f : forks) {
      EXPECT_TRUE(HasRecord(*r, RecordKind::kChdir, f->child_pid, dir)) << f->ToString() << "\n"
                                                                        << r->log;
      EXPECT_TRUE(HasRecord(*r, RecordKind::kRead, f->child_pid, "hdr")) << f->ToString() << "\n"
                                                                         << r->log;
    }
    // The last child may still run when the command exits: every process's X is there anyway.
    EXPECT_EQ(r->Of(RecordKind::kExit).size(), children + 1) << r->log;
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_P(BackendConformanceTest, OrderParentForksAndExits) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("fork", 1);
}

TEST_P(BackendConformanceTest, OrderDaemon) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("daemon", 1);
}

TEST_P(BackendConformanceTest, OrderPosixSpawnWithFileActionsAndNoWait) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("spawn", 1);
}

TEST_P(BackendConformanceTest, OrderVforkAndExit) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("vfork", 1);
}

TEST_P(BackendConformanceTest, OrderThreadsThatFork) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("threads", 16);
}

// A fork made by the raw clone3 or clone system call (through syscall(2), as a program that
// wants clone3's pidfd does): F before the child's records, as for fork.
TEST_P(BackendConformanceTest, OrderRawClone3AndExit) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("clone3", 1);
}

TEST_P(BackendConformanceTest, OrderRawCloneAndExit) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("clone", 1);
}

TEST_P(BackendConformanceTest, OrderForkInASignalHandler) {
  SKIP_IF_KNOWN_ORDER_BUG();
  RunOrderCase("signal", 1);
}

// `(cd sub; cat hdr) & exit 0`: the shell exits at once; bmake would resolve "hdr" in the
// subshell's cwd only if the subshell's F came before the shell's X.
TEST_P(BackendConformanceTest, OrderShellBackgroundsASubshellAndExits) {
  SKIP_IF_KNOWN_ORDER_BUG();
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE(absl::StrCat("run ", run));
    const std::string dir = MakeTempDir("subshell");
    ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(dir + "/sub/hdr", "x\n").ok());
    absl::StatusOr<TraceResult> r =
        Trace(ShellCommand("(cd sub; cat hdr >/dev/null) & exit 0", dir));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
    bool found = false;
    for (const OwnedRecord& rec : r->records) {
      found |= rec.kind == RecordKind::kChdir && (rec.path == "sub" || rec.path == dir + "/sub") &&
               HasRecord(*r, RecordKind::kRead, rec.pid, "hdr");
    }
    ASSERT_TRUE(found) << r->log;
    ASSERT_GE(r->Of(RecordKind::kFork).size(), 1u) << r->log;
  }
}

// A statically linked parent exits at once and its orphan execs /bin/cat (dynamically linked):
// under auto the parent is traced by the hand-off helper (ptrace) and the orphan is reaped by
// the supervisor's reaper; under preload the parent is invisible to the interposer, and the
// orphan shows itself only when cat starts, after its parent's exit. Every process must have
// one X, the orphan's cat its read, and its F must name the static program (a process of the
// tree, before that one's X), never a helper of the tracer.
TEST_P(BackendConformanceTest, OrderStaticParentLeavesADynamicOrphan) {
  SKIP_IF_KNOWN_ORDER_BUG();
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE(absl::StrCat("run ", run));
    const std::string dir = DirWithHeader("static_orphan");
    absl::StatusOr<TraceResult> r = Trace(ShellCommand(
        absl::StrCat(TestProgram("static_orphan_exec_bin"), " /bin/cat hdr; sleep 0.1"), dir));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
    ASSERT_TRUE(r->Has(RecordKind::kRead, "hdr")) << r->log;
    ExpectOrphanNamesTheStaticProgram(*r);
    for (int64_t pid : r->Pids()) {
      const std::vector<const OwnedRecord*> exits = r->Of(RecordKind::kExit);
      EXPECT_EQ(std::count_if(exits.begin(), exits.end(),
                              [&](const OwnedRecord* x) { return x->pid == pid; }),
                1)
          << "pid " << pid << "\n"
          << r->log;
    }
  }
}

// The same with the static program as the command itself: under preload its orphan's parent
// is then the supervisor's reaper, which the log must not name.
TEST_P(BackendConformanceTest, OrderStaticCommandLeavesADynamicOrphan) {
  SKIP_IF_KNOWN_ORDER_BUG();
  for (int run = 0; run < kRuns / 4; ++run) {
    SCOPED_TRACE(absl::StrCat("run ", run));
    const std::string dir = DirWithHeader("static_root_orphan");
    Command c;
    c.argv = {TestProgram("static_orphan_exec_bin"), "/bin/cat", "hdr"};
    c.cwd = dir;
    absl::StatusOr<TraceResult> r = Trace(c);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
    ASSERT_TRUE(r->Has(RecordKind::kRead, "hdr")) << r->log;
    ExpectOrphanNamesTheStaticProgram(*r);
  }
}

// rename and link of two ~3000-byte paths: each record is larger than PIPE_BUF, yet it must
// come before the W that follows it and before the process's X.
TEST_P(BackendConformanceTest, OrderRecordsLargerThanAPipeWrite) {
  SKIP_IF_KNOWN_ORDER_BUG();
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE(absl::StrCat("run ", run));
    const std::string dir = MakeTempDir("long");
    Command c;
    c.argv = {TestProgram("order_cases_bin"), "long", dir};
    absl::StatusOr<TraceResult> r = Trace(c);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
    auto index_of = [&](RecordKind kind) {
      for (size_t i = 0; i < r->records.size(); ++i) {
        const OwnedRecord& rec = r->records[i];
        if (rec.kind != kind) continue;
        if (kind == RecordKind::kWrite && rec.path != dir + "/after") continue;
        return i;
      }
      return r->records.size();
    };
    const size_t move = index_of(RecordKind::kMove), link = index_of(RecordKind::kLink);
    const size_t after = index_of(RecordKind::kWrite), exit = index_of(RecordKind::kExit);
    ASSERT_LT(exit, r->records.size()) << r->log;
    ASSERT_LT(move, link) << r->log;
    ASSERT_LT(link, after) << r->log;
    ASSERT_LT(after, exit) << r->log;
    EXPECT_GT(r->records[move].path.size(), 3000u);
    EXPECT_GT(r->records[link].path2.size(), 3000u);
  }
}

// A posix_spawn whose file action fails in glibc's child, after an earlier action created a
// file: the child's F, its W and its X 127, as the kernel ran them; preload and auto, which
// cannot learn that child's pid (glibc reaps it inside posix_spawn), say what is missing.
TEST_P(BackendConformanceTest, ASpawnWhoseFileActionFailsIsInTheLog) {
  const std::string dir = MakeTempDir("spawn_action_fails");
  Command c;
  c.argv = {TestProgram("probe_spawn_bin"), dir, "actions"};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  const std::vector<const OwnedRecord*> forks = r->Of(RecordKind::kFork);
  if (forks.empty()) {
    EXPECT_TRUE(absl::StrContains(r->log, "failed in the child glibc created")) << r->log;
    return;
  }
  const int64_t child = forks[0]->child_pid;
  EXPECT_TRUE(HasRecord(*r, RecordKind::kWrite, child, dir + "/made") ||
              HasRecord(*r, RecordKind::kWrite, child, "made"))
      << r->log;
  const std::vector<const OwnedRecord*> exits = r->Of(RecordKind::kExit);
  EXPECT_TRUE(std::any_of(exits.begin(), exits.end(), [&](const OwnedRecord* x) {
    return x->pid == child && x->status == 127;
  })) << r->log;
}

// A posix_spawn that fails with ENOMEM before glibc created a child (it could not map the
// child's stack): no child ran, so the log has no F for it and does not say one is missing.
TEST_P(BackendConformanceTest, ASpawnThatCreatedNoChildClaimsNone) {
  const std::string dir = MakeTempDir("spawn_no_memory");
  Command c;
  c.argv = {TestProgram("probe_spawn_bin"), dir, "nomem"};
  absl::StatusOr<TraceResult> r = Trace(c);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Of(RecordKind::kFork).empty()) << r->log;
  EXPECT_FALSE(absl::StrContains(r->log, "failed in the child glibc created")) << r->log;
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
