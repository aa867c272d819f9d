// The ebpf backend when the kernel's map of traced processes is full (made small here through
// loader_testing.h): a child the map cannot take runs untraced, and the log names it, since
// its records (and its descendants') are missing; the run fails with DataLoss saying so. A
// test binary of its own: the map's size is set before the process's first load. Needs root
// and BPF (no-sandbox); elsewhere it skips, saying why.

#include <cinttypes>
#include <cstdio>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/ebpf/ebpf_backend.h"
#include "filemon/backends/ebpf/loader_testing.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::CollectingSink;
using testing_internal::OwnedRecord;

TEST(TracedMapFull, AChildTheMapCannotTakeIsNamedInTheLog) {
  ebpf_internal::SetTracedProcessesForTesting(8);
  const std::string refusal = testing_internal::HostRefusal("ebpf");
  if (!refusal.empty()) GTEST_SKIP() << "ebpf cannot run here: " << refusal;
  // Sixteen subshells alive at once (each sleeps), for a map of eight.
  Command command;
  command.argv = {"/bin/sh", "-c",
                  "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do "
                  "(cat /etc/hostname >/dev/null; sleep 1) & done; wait"};
  CollectingSink sink;
  absl::StatusOr<ExitStatus> exit = MakeEbpfBackend().value()->Run(command, {}, &sink);
  std::set<int64_t> forked, exited, said;
  for (const OwnedRecord& r : sink.records()) {
    if (r.kind == RecordKind::kFork) forked.insert(r.child_pid);
    if (r.kind == RecordKind::kExit) exited.insert(r.pid);
    int64_t pid = 0;
    if (r.kind == RecordKind::kComment && absl::StrContains(r.path, ": not traced: ") &&
        std::sscanf(r.path.c_str(), " filemon: pid %" SCNd64, &pid) == 1) {
      said.insert(pid);
    }
  }
  std::string log;
  for (const OwnedRecord& r : sink.records()) absl::StrAppend(&log, r.ToString(), "\n");
  EXPECT_FALSE(said.empty()) << "the map never filled\n" << log;
  for (int64_t child : forked) {
    EXPECT_NE(exited.count(child) != 0, said.count(child) != 0)
        << "pid " << child << ": an X, or a comment saying it is not traced\n"
        << log;
  }
  ASSERT_FALSE(exit.ok()) << log;
  EXPECT_TRUE(absl::IsDataLoss(exit.status())) << exit.status();
  EXPECT_TRUE(absl::StrContains(exit.status().message(),
                                absl::StrCat(said.size(), " processes not traced")))
      << exit.status();
}

}  // namespace
}  // namespace filemon
