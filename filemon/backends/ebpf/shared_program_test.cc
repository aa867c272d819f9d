// The program shared by every run and session of a process (loader.h): sessions at once each
// get their own tree's records, and the program and its ring buffers are not loaded or made
// again per session. Needs root and BPF (no-sandbox); elsewhere every test skips.
#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/ebpf/ebpf_backend.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {
namespace {

// The BPF objects this process holds: programs, and ring buffer maps (by id).
struct BpfFds {
  int programs = 0;
  std::set<std::string> rings;
};

BpfFds CountBpfFds() {
  BpfFds count;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return count;
  while (dirent* entry = readdir(dir)) {
    std::string fd = entry->d_name;
    char target[256] = {};
    if (readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), target, sizeof(target) - 1) < 0) {
      continue;
    }
    if (absl::string_view(target) == "anon_inode:bpf-prog") ++count.programs;
    if (absl::string_view(target) != "anon_inode:bpf-map") continue;
    std::ifstream info(absl::StrCat("/proc/self/fdinfo/", fd));
    std::string line, id;
    bool ring = false;
    while (std::getline(info, line)) {
      ring |= line == "map_type:\t27";  // BPF_MAP_TYPE_RINGBUF
      if (absl::StartsWith(line, "map_id:")) id = line;
    }
    if (ring) count.rings.insert(id);
  }
  closedir(dir);
  return count;
}

// A session whose child, `sh -c SCRIPT` in `dir`, has been started and reaped.
struct Started {
  std::unique_ptr<TraceSession> session;
  pid_t pid = -1;
};

Started Start(Backend& backend, const std::string& dir, const std::string& script) {
  Started s;
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend.StartSession({});
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return s;
  s.session = std::move(*session);
  s.pid = fork();
  if (s.pid == 0) {
    if (chdir(dir.c_str()) != 0 || s.session->PrepareChild() != 0) _exit(120);
    execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(121);
  }
  EXPECT_TRUE(s.session->SetChild(s.pid).ok());
  return s;
}

// Reaps the child, then reads the session to its end.
TraceResult Finish(Started& s) {
  TraceResult r;
  int status = 0;
  EXPECT_EQ(waitpid(s.pid, &status, 0), s.pid);
  CollectingSink sink;
  EXPECT_TRUE(s.session->Finish(&sink).ok());
  r.records = std::move(sink.records());
  for (const OwnedRecord& rec : r.records) absl::StrAppend(&r.log, rec.ToString(), "\n");
  return r;
}

class SharedProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeEbpfBackend();
    if (!backend.ok()) GTEST_SKIP() << "ebpf cannot run here: " << backend.status();
    backend_ = std::move(*backend);
    CollectingSink sink;
    Command command;
    command.argv = {"/bin/true"};
    absl::StatusOr<ExitStatus> exit = backend_->Run(command, {}, &sink);
    if (absl::IsUnavailable(exit.status()))
      GTEST_SKIP() << "ebpf cannot run here: " << exit.status();
    ASSERT_TRUE(exit.ok()) << exit.status();
  }
  std::unique_ptr<Backend> backend_;
};

// Three sessions at once: each log has its own child's writes and none of the others'; the
// process holds the four programs of one load, not one load per session.
TEST_F(SharedProgramTest, SessionsAtOnceShareOneProgramAndKeepTheirTrees) {
  const BpfFds before = CountBpfFds();
  std::string dir = MakeTempDir("shared");
  Started s[3];
  for (int i = 0; i < 3; ++i) {
    s[i] = Start(*backend_, dir, absl::StrCat("echo ", i, " > out", i, "; cat out", i));
    ASSERT_NE(s[i].session, nullptr);
  }
  const BpfFds during = CountBpfFds();
  EXPECT_EQ(during.programs, before.programs);
  for (int i = 0; i < 3; ++i) {
    TraceResult r = Finish(s[i]);
    for (int j = 0; j < 3; ++j) {
      std::string out = absl::StrCat("out", j);
      EXPECT_EQ(r.Has(RecordKind::kWrite, out), i == j) << "session " << i << ":\n" << r.log;
    }
    for (const OwnedRecord& rec : r.records) {
      for (int j = 0; j < 3; ++j) {
        if (j != i && rec.kind != RecordKind::kComment) {
          EXPECT_NE(rec.pid, s[j].pid) << "session " << i << ":\n" << r.log;
        }
      }
    }
  }
}

// Sessions one after another reuse the ring buffers of ended ones: each session's ring is one
// the process held before it started, and none is added.
TEST_F(SharedProgramTest, SessionsInTurnReuseRingBuffers) {
  std::string dir = MakeTempDir("turns");
  Started first = Start(*backend_, dir, "cat /dev/null");
  Finish(first);
  first.session.reset();
  const BpfFds before = CountBpfFds();
  for (int i = 0; i < 20; ++i) {
    Started s = Start(*backend_, dir, absl::StrCat("echo > turn", i));
    for (const std::string& ring : CountBpfFds().rings) EXPECT_EQ(before.rings.count(ring), 1u);
    TraceResult r = Finish(s);
    EXPECT_TRUE(r.Has(RecordKind::kWrite, absl::StrCat("turn", i))) << r.log;
  }
  const BpfFds after = CountBpfFds();
  EXPECT_EQ(after.rings, before.rings);
  EXPECT_EQ(after.programs, before.programs);
}

}  // namespace
}  // namespace testing_internal
}  // namespace filemon
