// TraceOptions::probes under ptrace: which failed lookups become `N` (probe_calls.c lists them),
// once per process and path, with R's path rules; and nothing at all without the option.

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {
namespace {

// The directory probe_calls.c expects: `file`, `sub/`, `bin1/` (empty) and `bin2/tool`.
std::string ProbeDir() {
  const std::string dir = MakeTempDir("probes");
  EXPECT_TRUE(WriteFile(dir + "/file", "x").ok());
  EXPECT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
  EXPECT_EQ(mkdir((dir + "/bin1").c_str(), 0755), 0);
  EXPECT_EQ(mkdir((dir + "/bin2").c_str(), 0755), 0);
  EXPECT_EQ(symlink("/bin/true", (dir + "/bin2/tool").c_str()), 0);
  return dir;
}

absl::StatusOr<TraceResult> TraceProbeCalls(const std::string& dir, const TraceOptions& options) {
  Command c;
  c.argv = {TestProgram("probe_calls_bin"), dir};
  return TraceCommand("ptrace", c, options);
}

TEST(PtraceProbes, EachFailedLookupOnceWithThePathRulesOfR) {
  const std::string dir = ProbeDir();
  TraceOptions options;
  options.probes = true;
  absl::StatusOr<TraceResult> r = TraceProbeCalls(dir, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  for (const char* path : {"st", "ls", "ac", "rl", "sx", "op", "file/x"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, path), 1) << path << "\n" << r->log;
  }
  for (const char* name : {"fsa", "faa", "rla", "oa"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/sub/" + name), 1) << name << "\n" << r->log;
  }
  // execvp's PATH search: the miss in bin1, then the exec of bin2's tool.
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/bin1/tool"), 1) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, dir + "/bin2/tool")) << r->log;
  // O_CREAT opens, successful lookups and fstat are no probes.
  EXPECT_FALSE(r->Has(RecordKind::kNotFound, "nodir/x")) << r->log;
  EXPECT_FALSE(r->Has(RecordKind::kNotFound, "file")) << r->log;
  // Nothing else, but the dynamic loader's own probe of /etc/ld.so.preload in each process.
  size_t ours = 0;
  for (const OwnedRecord* n : r->Of(RecordKind::kNotFound)) ours += n->path != "/etc/ld.so.preload";
  EXPECT_EQ(ours, 12u) << r->log;
}

TEST(PtraceProbes, AbsolutePathsResolveProbesToo) {
  const std::string dir = ProbeDir();
  TraceOptions options;
  options.probes = true;
  options.absolute_paths = true;
  absl::StatusOr<TraceResult> r = TraceProbeCalls(dir, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/st"), 1) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/file/x"), 1) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/sub/oa"), 1) << r->log;
  EXPECT_FALSE(r->Has(RecordKind::kAt, "oa")) << r->log;
}

TEST(PtraceProbes, WithoutTheOptionNoProbeIsRecorded) {
  const std::string dir = ProbeDir();
  absl::StatusOr<TraceResult> r = TraceProbeCalls(dir, {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Of(RecordKind::kNotFound).empty()) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, dir + "/bin2/tool")) << r->log;
}

TEST(PtraceProbes, ThePidOfAProbeIsItsProcess) {
  const std::string dir = MakeTempDir("probepid");
  TraceOptions options;
  options.probes = true;
  absl::StatusOr<TraceResult> r = TraceCommand(
      "ptrace", ShellCommand("cat gone 2>/dev/null; cat gone 2>/dev/null", dir), options);
  ASSERT_TRUE(r.ok()) << r.status();
  // Two cat processes: one N each (once per process, not once per log).
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "gone"), 2) << r->log;
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
