// The ebpf backend on real programs: the backend conformance suite (with the kernel-order cases
// and the strace cross-check), stress, a full ring buffer, and the errors where it cannot run.
// Its sessions are tested with the other backends' (filemon/backends/session_test.cc,
// session_child_test.cc). Needs root and a kernel that lets it load BPF: tagged no-sandbox (Bazel's
// sandbox is a user namespace, where bpf() is refused); elsewhere every test skips, saying why.
#include "filemon/backends/ebpf/ebpf_backend.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/backend_conformance.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {
namespace {

class EbpfEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    // Only the host's refusal skips: any other failure is the backend's, and the tests show it.
    const std::string refusal = HostRefusal("ebpf");
    if (!refusal.empty()) GTEST_SKIP() << "ebpf cannot run here: " << refusal;
  }
};

const ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new EbpfEnvironment);

}  // namespace

INSTANTIATE_TEST_SUITE_P(Ebpf, BackendConformanceTest, ::testing::Values("ebpf"));

namespace {

// The number of records of `kind` for `path` and the lost-record count the log states.
struct Counted {
  int records = 0;
  int64_t lost = 0;
};

Counted Count(const std::vector<OwnedRecord>& records, RecordKind kind, const std::string& path) {
  Counted c;
  for (const OwnedRecord& r : records) {
    if (r.kind == kind && r.path == path) ++c.records;
    constexpr absl::string_view kLost = " filemon: lost ";
    if (r.kind == RecordKind::kComment && absl::StartsWith(r.path, kLost)) {
      c.lost = std::stoll(r.path.substr(kLost.size()));
    }
  }
  return c;
}

// 8 threads opening `file` (created empty) 10,000 times each: 80,000 records.
Command OpenStorm(const std::string& file) {
  EXPECT_TRUE(WriteFile(file, "").ok());
  Command command;
  command.argv = {TestProgram("open_storm_bin"), file, "8", "10000"};
  return command;
}

TEST(EbpfBackendTest, EightThreadsTimesTenThousandOpensLoseNothing) {
  std::string file = MakeTempDir("storm") + "/f";
  Command command = OpenStorm(file);
  absl::StatusOr<TraceResult> r = TraceCommand("ebpf", command, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString().substr(0, 2000);
  EXPECT_EQ(r->exit.ShellStatus(), 0);
  EXPECT_EQ(r->Count(RecordKind::kRead, file), 80000);
}

// A ring buffer too small for a burst: whatever did not fit is counted, stated in the log and
// made an error; present + lost covers every open.
TEST(EbpfBackendTest, FullRingBufferIsCountedNeverSilent) {
  std::string file = MakeTempDir("full") + "/f";
  Command command = OpenStorm(file);
  EbpfOptions options;
  options.ring_buffer_bytes = 4096;
  CollectingSink sink;
  absl::StatusOr<ExitStatus> exit = MakeEbpfBackend(options).value()->Run(command, {}, &sink);
  Counted c = Count(sink.records(), RecordKind::kRead, file);
  EXPECT_LE(c.records, 80000);
  EXPECT_GE(c.records + c.lost, 80000);
  if (c.lost > 0) {
    ASSERT_FALSE(exit.ok());
    EXPECT_TRUE(absl::IsDataLoss(exit.status())) << exit.status();
    EXPECT_TRUE(absl::StrContains(exit.status().message(), absl::StrCat("lost ", c.lost)))
        << exit.status();
  } else {
    EXPECT_TRUE(exit.ok()) << exit.status();  // the reader kept up with one page
  }
}

// Nothing is injected into a set-user-ID program: run by `nobody`, a set-user-ID root copy of
// id(1) still runs as root, and its exec is recorded.
TEST(EbpfBackendTest, SetuidProgramKeepsItsPrivilege) {
  if (!OnPath("setpriv")) GTEST_SKIP() << "setpriv (util-linux) is not installed";
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create a set-user-ID root program";
  absl::StatusOr<std::string> setuid_id = MakeSetuidRootId();
  ASSERT_TRUE(setuid_id.ok()) << setuid_id.status();
  std::string program = *setuid_id;
  std::string dir = program.substr(0, program.rfind('/'));
  std::string out_path = MakeTempDir("setuid_out") + "/out";
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(out, 0);
  Command c;
  c.argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", program, "-u"};
  c.stdout_fd = out;
  absl::StatusOr<TraceResult> r = TraceCommand("ebpf", c, {});
  close(out);
  std::ifstream in(out_path);
  std::string euid;
  std::getline(in, euid);
  (void)!system(absl::StrCat("rm -rf '", dir, "'").c_str());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(euid, "0") << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, program)) << r->log;
}

// Whether the kernel still has the BPF object `kind` ("prog", "link", "map") with `id`.
bool BpfObjectExists(const std::string& kind, uint32_t id) {
  int fd = kind == "prog"   ? bpf_prog_get_fd_by_id(id)
           : kind == "link" ? bpf_link_get_fd_by_id(id)
                            : bpf_map_get_fd_by_id(id);
  if (fd >= 0) close(fd);
  return fd >= 0 || errno != ENOENT;
}

// A run leaves nothing of it in the kernel once its process has exited: no program, link
// (attachment) or map, hence nothing pinned and no helper process still holding them. The run
// is another process's (bpf_objects_of_a_run), which prints the ids it holds and exits. The
// kernel frees them after grace periods: they get seconds to go, a bound on correctness only.
TEST(EbpfBackendTest, NothingOfARunOutlivesItsProcess) {
  std::string ids_path = MakeTempDir("bpf_ids") + "/ids";
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  ASSERT_TRUE(srcdir != nullptr && workspace != nullptr) << "run it with bazel test";
  const std::string command = absl::StrCat(
      srcdir, "/", workspace, "/filemon/backends/ebpf/bpf_objects_of_a_run > '", ids_path, "'");
  ASSERT_EQ(system(command.c_str()), 0) << command;
  std::ifstream in(ids_path);
  std::vector<std::pair<std::string, uint32_t>> objects;
  std::string kind;
  uint32_t id = 0;
  while (in >> kind >> id) objects.emplace_back(kind, id);
  int programs = 0;
  for (const auto& object : objects) programs += object.first == "prog";
  ASSERT_GE(programs, 4) << "the run held fewer BPF programs than it attaches";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (const auto& [object_kind, object_id] : objects) {
    while (BpfObjectExists(object_kind, object_id) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(BpfObjectExists(object_kind, object_id)) << object_kind << " " << object_id;
  }
}

// The program sees the pids of the initial pid namespace; a process in another one (a
// container) would put a pid in the traced map that names another process there.
TEST(EbpfBackendTest, AnotherPidNamespaceIsAClearError) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWPID) != 0) _exit(2);
    pid_t inner = fork();  // the first process of the new namespace
    if (inner == 0) {
      absl::Status s = EbpfBackendAvailable();
      _exit(absl::IsUnavailable(s) && absl::StrContains(s.message(), "pid namespace") ? 0 : 1);
    }
    int status = 0;
    _exit(inner > 0 && waitpid(inner, &status, 0) == inner && WIFEXITED(status)
              ? WEXITSTATUS(status)
              : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot make a pid namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "EbpfBackendAvailable() did not refuse another pid namespace";
}

TEST(EbpfBackendTest, NotRootIsAClearError) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    absl::Status s = EbpfBackendAvailable();
    _exit(absl::IsUnavailable(s) && absl::StrContains(s.message(), "not root") ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot switch to nobody here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "EbpfBackendAvailable() did not say `not root`";
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
