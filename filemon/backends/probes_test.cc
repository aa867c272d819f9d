// TraceOptions::probes under every Linux backend (ebpf where the host lets it load BPF): which
// failed lookups become `N` (probe_calls.c lists them), once per process and path, with R's
// path rules; nothing at all without the option; and for the same command, the same N records
// as ptrace under ebpf, and under preload but for the lookups only a tracer sees
// (LibcInternalProbe).

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

TraceOptions WithProbes() {
  TraceOptions options;
  options.probes = true;
  return options;
}

// What ptrace sees and the interposer cannot: lookups made inside glibc or before the
// interposer is loaded. The dynamic loader's /etc/ld.so.preload; setlocale's locale data;
// gettext's message catalogs.
bool LibcInternalProbe(const std::string& path) {
  return path == "/etc/ld.so.preload" || absl::StartsWith(path, "/usr/lib/locale/") ||
         (absl::StrContains(path, "/LC_") && absl::EndsWith(path, ".mo"));
}

class Probes : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    // ebpf needs root and BPF rights (this test runs outside Bazel's sandbox for it).
    const std::string refusal = HostRefusal(GetParam());
    if (!refusal.empty()) GTEST_SKIP() << GetParam() << " cannot run here: " << refusal;
  }

  absl::StatusOr<TraceResult> TraceProbeCalls(const std::string& dir, const TraceOptions& options) {
    Command c;
    c.argv = {TestProgram("probe_calls_bin"), dir};
    return TraceCommand(GetParam(), c, options);
  }
};

TEST_P(Probes, EachFailedLookupOnceWithThePathRulesOfR) {
  const std::string dir = ProbeDir();
  absl::StatusOr<TraceResult> r = TraceProbeCalls(dir, WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  // stat("st") twice: once.
  for (const char* path : {"st", "ls", "ac", "rl", "sx", "op", "file/x"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, path), 1) << path << "\n" << r->log;
  }
  for (const char* name : {"fsa", "faa", "rla", "oa"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/sub/" + name), 1) << name << "\n" << r->log;
  }
  // execlp's and posix_spawnp's PATH searches (under preload the interposer's own for
  // execlp, glibc's calls execve internally; for posix_spawnp the parent's, passed to the child):
  // the miss in bin1, under each child's pid, then the exec of bin2's tool.
  std::vector<int64_t> tools;
  for (const OwnedRecord* e : r->Of(RecordKind::kExec)) {
    if (e->path == dir + "/bin2/tool") tools.push_back(e->pid);
  }
  ASSERT_EQ(tools.size(), 2u) << r->log;
  std::vector<int64_t> missed;
  for (const OwnedRecord* n : r->Of(RecordKind::kNotFound)) {
    if (n->path == dir + "/bin1/tool") missed.push_back(n->pid);
  }
  EXPECT_EQ(missed, tools) << r->log;
  // O_CREAT opens, successful lookups and fstat are no probes.
  EXPECT_FALSE(r->Has(RecordKind::kNotFound, "nodir/x")) << r->log;
  EXPECT_FALSE(r->Has(RecordKind::kNotFound, "file")) << r->log;
  // Nothing else, but what only ptrace sees (the loader's own probe in each process).
  size_t ours = 0;
  for (const OwnedRecord* n : r->Of(RecordKind::kNotFound)) ours += !LibcInternalProbe(n->path);
  EXPECT_EQ(ours, 13u) << r->log;
}

TEST_P(Probes, AbsolutePathsResolveProbesToo) {
  const std::string dir = ProbeDir();
  TraceOptions options = WithProbes();
  options.absolute_paths = true;
  absl::StatusOr<TraceResult> r = TraceProbeCalls(dir, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/st"), 1) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/file/x"), 1) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/sub/oa"), 1) << r->log;
  EXPECT_FALSE(r->Has(RecordKind::kAt, "oa")) << r->log;
}

TEST_P(Probes, WithoutTheOptionNoProbeIsRecorded) {
  const std::string dir = ProbeDir();
  absl::StatusOr<TraceResult> r = TraceProbeCalls(dir, {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_TRUE(r->Of(RecordKind::kNotFound).empty()) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, dir + "/bin2/tool")) << r->log;
}

TEST_P(Probes, TwoProcessesProbingOnePathWriteOneEach) {
  const std::string dir = MakeTempDir("probepid2");
  absl::StatusOr<TraceResult> r = TraceCommand(
      GetParam(), ShellCommand("cat gone 2>/dev/null; cat gone 2>/dev/null", dir), WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  // Two cat processes: one N each (once per process, not once per log).
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "gone"), 2) << r->log;
}

// A forked child's first probe of a path its parent probed is its own.
TEST_P(Probes, ThePidOfAProbeIsItsProcess) {
  const std::string dir = MakeTempDir("probepid");
  absl::StatusOr<TraceResult> r = TraceCommand(
      GetParam(), ShellCommand("test -e gone; (test -e gone; test -e gone); test -e gone", dir),
      WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<int64_t> pids;
  for (const OwnedRecord* n : r->Of(RecordKind::kNotFound)) {
    if (n->path == "gone") pids.push_back(n->pid);
  }
  ASSERT_EQ(pids.size(), 2u) << r->log;  // the shell, and the subshell it forked
  EXPECT_NE(pids[0], pids[1]) << r->log;
}

// A probe before an exec and the same one after it, in the same pid: one N (the rule is per
// pid, as ptrace keeps it, though the interposer's memory does not survive the exec).
TEST_P(Probes, OnePerPidAcrossAnExec) {
  const std::string dir = MakeTempDir("probeexec");
  absl::StatusOr<TraceResult> r = TraceCommand(
      GetParam(), ShellCommand("test -e gone; exec /bin/sh -c 'test -e gone'", dir), WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "gone"), 1) << r->log;
}

// A lookup that follows a dangling symbolic link is a probe of the link's path; one that does not
// follow it finds the link (probe_links.c lists the calls). ptrace judges most lookups at their
// entry stop by looking the path up itself, as the call would: following the link or not.
TEST_P(Probes, ADanglingLinkIsAProbeOnlyForTheCallsThatFollowIt) {
  const std::string dir = MakeTempDir("probe_links");
  for (const char* name :
       {"f1", "f2", "f3", "f4", "f5", "f6", "n1", "n2", "n3", "n4", "n5", "n6"}) {
    ASSERT_EQ(symlink("nowhere", (dir + "/" + name).c_str()), 0) << name;
  }
  Command c;
  c.argv = {TestProgram("probe_links_bin"), dir};
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  for (const char* path : {"f1", "f2", "f3", "f4", "f5"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, path), 1) << path << "\n" << r->log;
  }
  // A raw system call, which only a tracer sees.
  if (std::string(GetParam()) == "ptrace") {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, "f6"), 1) << r->log;
  }
  for (const char* path : {"n1", "n2", "n3", "n4", "n5", "n6"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, path), 0) << path << "\n" << r->log;
  }
}

// A process that leaves the tracer's mount namespace (unshare) and mounts an empty file system
// over a directory no longer finds the file the tracer still sees there: its lookup is a probe.
// The shell looks something up first, so that ptrace has judged that process's lookups by its
// own before the unshare.
TEST_P(Probes, ALookupInAnotherMountNamespaceIsTheTraceesOwn) {
  if (system("unshare -rm true 2>/dev/null") != 0) {
    GTEST_SKIP() << "unshare -rm (an unprivileged user and mount namespace) is not available";
  }
  const std::string dir = MakeTempDir("probe_mountns");
  ASSERT_EQ(mkdir((dir + "/hidden").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir + "/hidden/file", "x").ok());
  const std::string script =
      absl::StrCat("test -e absent; exec unshare -rm sh -c 'mount -t tmpfs none hidden && test -e ",
                   dir, "/hidden/file; test -e hidden/file; exit 0'");
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), ShellCommand(script, dir), WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "absent"), 1) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, dir + "/hidden/file"), 1) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "hidden/file"), 1) << r->log;
}

// An exec fails with ENOENT when the program exists but its interpreter does not: the exec
// failed that way, so it is a probe of the program's path, as the format says.
TEST_P(Probes, AnExecFailingWithENOENTIsAProbeAlsoWhenTheProgramExists) {
  const std::string dir = MakeTempDir("probe_interpreter");
  ASSERT_TRUE(WriteFile(dir + "/script", "#!/nonexistent/interpreter\n").ok());
  ASSERT_EQ(chmod((dir + "/script").c_str(), 0755), 0);
  absl::StatusOr<TraceResult> r =
      TraceCommand(GetParam(), ShellCommand("./script 2>/dev/null; exit 0", dir), WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "./script"), 1) << r->log;
}

// The same through posix_spawn and posix_spawnp (probe_spawn.c lists the calls): the exec is
// made in glibc's child, which exits at once when it failed (preload writes those probes as
// the parent's: the child's pid is never known to it); posix_spawnp's child goes on to the
// next PATH entry after a script of an absent interpreter, as after an absent program.
TEST_P(Probes, ASpawnWhoseExecFailsIsAProbe) {
  const std::string dir = MakeTempDir("probe_spawn");
  const std::string script = "#!/nonexistent/interpreter\n";
  ASSERT_EQ(mkdir((dir + "/bin1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir + "/bin2").c_str(), 0755), 0);
  for (const char* name : {"/script", "/bin1/tool"}) {
    ASSERT_TRUE(WriteFile(dir + name, script).ok());
    ASSERT_EQ(chmod((dir + name).c_str(), 0755), 0);
  }
  ASSERT_EQ(symlink("/bin/true", (dir + "/bin2/tool").c_str()), 0);
  Command c;
  c.argv = {TestProgram("probe_spawn_bin"), dir};
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
  for (const std::string& path : {std::string("./script"), std::string("./absent"),
                                  dir + "/bin1/tool", dir + "/bin1/gone", dir + "/bin2/gone"}) {
    EXPECT_EQ(r->Count(RecordKind::kNotFound, path), 1) << path << "\n" << r->log;
  }
  EXPECT_TRUE(r->Has(RecordKind::kExec, dir + "/bin2/tool")) << r->log;
  EXPECT_FALSE(r->Has(RecordKind::kNotFound, dir + "/bin2/tool")) << r->log;
}

// posix_spawnp's child goes on past a `#!` script of an absent interpreter (the kernel says
// ENOENT) with or without probes: the program the log names is the one that ran, here a
// statically linked one, which ptrace and auto's helper trace and preload names.
TEST_P(Probes, ASpawnpGoesOnPastAScriptOfAnAbsentInterpreter) {
  const std::string dir = MakeTempDir("spawnp_interpreter");
  ASSERT_EQ(mkdir((dir + "/bin1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir + "/bin2").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir + "/bin1/tool", "#!/nonexistent/interpreter\n").ok());
  ASSERT_EQ(chmod((dir + "/bin1/tool").c_str(), 0755), 0);
  ASSERT_EQ(symlink(TestProgram("static_open_bin").c_str(), (dir + "/bin2/tool").c_str()), 0);
  ASSERT_TRUE(WriteFile(dir + "/in", "x").ok());
  for (const bool probes : {false, true}) {
    SCOPED_TRACE(probes ? "with probes" : "without probes");
    TraceOptions options;
    options.probes = probes;
    Command c;
    c.argv = {TestProgram("probe_spawn_bin"), dir, "static"};
    absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit.ShellStatus(), 0) << r->log;
    EXPECT_TRUE(r->Has(RecordKind::kExec, dir + "/bin2/tool")) << r->log;
    EXPECT_FALSE(r->Has(RecordKind::kExec, dir + "/bin1/tool")) << r->log;
    if (GetParam() != std::string("preload")) {
      EXPECT_TRUE(r->Has(RecordKind::kWrite, "out")) << r->log;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Probes,
                         ::testing::Values("ptrace", "preload", kAutoWithoutEbpf, "ebpf"));

// auto hands a statically linked program to its ptrace helper mid-run: the helper records
// that program's probes too and forwards them into the same log.
TEST(AutoProbes, AStaticProgramsProbesComeThroughTheHelper) {
  const std::string dir = MakeTempDir("probes_static");
  absl::StatusOr<TraceResult> r = TraceCommand(
      kAutoWithoutEbpf, ShellCommand(TestProgram("static_open_bin") + " absent out; true", dir),
      WithProbes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(absl::StrContains(r->log, "traced with ptrace")) << r->log;
  EXPECT_EQ(r->Count(RecordKind::kNotFound, "absent"), 1) << r->log;
}

// The N paths of a log, one entry per (process, path); without the libc-internal ones unless
// `all`.
std::map<std::string, int> ProbedPaths(const TraceResult& r, bool all) {
  std::map<std::string, int> out;
  for (const OwnedRecord* n : r.Of(RecordKind::kNotFound)) {
    if (all || !LibcInternalProbe(n->path)) ++out[n->path];
  }
  return out;
}

// The same N records as ptrace's for the same run: preload's and auto's (without ebpf) but for
// what only a tracer sees (LibcInternalProbe), ebpf's all of them. gcc with two -I directories
// (cc1's include search, the driver's search of its programs and libraries, realpath of the include
// directories), a shell's PATH search and a failed cat.
class SameProbesAsPtrace : public Probes {};

TEST_P(SameProbesAsPtrace, ForTheSameRun) {
  if (!OnPath("gcc")) GTEST_SKIP() << "gcc is needed";
  const std::string dir = MakeTempDir("probes_same");
  ASSERT_EQ(mkdir((dir + "/inc1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir + "/inc2").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir + "/inc2/same.h", "#define A 2\n").ok());
  ASSERT_TRUE(WriteFile(dir + "/a.c",
                        "#include <same.h>\n#include <stdio.h>\nint f(void) "
                        "{ return A; }\n")
                  .ok());
  const std::string script =
      "gcc -I inc1 -I inc2 -c a.c -o a.o && rm a.o && cat none 2>/dev/null; "
      "PATH=" +
      dir + "/inc1:$PATH true; exit 0";
  absl::StatusOr<TraceResult> ptrace =
      TraceCommand("ptrace", ShellCommand(script, dir), WithProbes());
  ASSERT_TRUE(ptrace.ok()) << ptrace.status();
  absl::StatusOr<TraceResult> other =
      TraceCommand(GetParam(), ShellCommand(script, dir), WithProbes());
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(ptrace->Has(RecordKind::kNotFound, "inc1/same.h")) << ptrace->log;
  const bool all = GetParam() == std::string("ebpf");  // an interposer sees less (see above)
  const std::map<std::string, int> p = ProbedPaths(*ptrace, all), o = ProbedPaths(*other, all);
  EXPECT_EQ(Difference(p, o), "") << "ptrace recorded, " << GetParam() << " did not\n"
                                  << GetParam() << " log:\n"
                                  << other->log << "\nptrace log:\n"
                                  << ptrace->log;
  EXPECT_EQ(Difference(o, p), "") << GetParam() << " recorded, ptrace did not\n"
                                  << GetParam() << " log:\n"
                                  << other->log << "\nptrace log:\n"
                                  << ptrace->log;
}

INSTANTIATE_TEST_SUITE_P(Backends, SameProbesAsPtrace,
                         ::testing::Values("preload", kAutoWithoutEbpf, "ebpf"));

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
