#include "filemon/backends/backend_factory.h"

#include <string>

#include "absl/status/status.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::CollectingSink;

TEST(MakeBackend, EachLinuxBackendByItsName) {
  for (absl::string_view name : {"ptrace", "preload", "auto"}) {
    SCOPED_TRACE(std::string(name));
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(name);
    ASSERT_TRUE(backend.ok()) << backend.status();
    EXPECT_EQ((*backend)->name(), name);
  }
}

TEST(MakeBackend, KernelIsUnavailableOnLinuxAndNamesTheAlternatives) {
#if defined(__linux__)
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("kernel");
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable);
  for (absl::string_view part : {"/dev/filemon", "--backend=ptrace", "--backend=preload"}) {
    EXPECT_NE(backend.status().message().find(part), absl::string_view::npos) << backend.status();
  }
#else
  GTEST_SKIP() << "the kernel backend's Linux path";
#endif
}

// Probes (TraceOptions::probes): preload records them, and auto traces with preload as it
// does without them (no note that it fell back to ptrace).
TEST(MakeBackend, PreloadAndAutoRecordProbes) {
  Command command;
  command.argv = {"/bin/sh", "-c", "cat /nonexistent/probe 2>/dev/null; true"};
  TraceOptions options;
  options.probes = true;
  for (const char* name : {"preload", "auto"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(name);
    ASSERT_TRUE(backend.ok()) << backend.status();
    CollectingSink sink;
    absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, options, &sink);
    ASSERT_TRUE(exit.ok()) << exit.status();
    bool probed = false;
    for (const auto& r : sink.records()) {
      probed |= r.kind == RecordKind::kNotFound && r.path == "/nonexistent/probe";
      if (r.kind == RecordKind::kComment) {
        EXPECT_EQ(r.path.find("tracing the whole command with"), std::string::npos) << r.path;
      }
    }
    EXPECT_TRUE(probed);
  }
}

// Every name BackendNames() lists is made through the same table: a backend by that name, or
// a status saying why this host cannot have it, never "unknown".
TEST(MakeBackend, EveryListedNameIsMadeOrSaysWhyNot) {
  for (absl::string_view name : BackendNames()) {
    SCOPED_TRACE(std::string(name));
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(name);
    if (backend.ok()) {
      // `auto` is named after what it picked where filemon(4) exists.
      if (name != "auto") {
        EXPECT_EQ((*backend)->name(), name);
      }
      continue;
    }
    EXPECT_NE(backend.status().code(), absl::StatusCode::kInvalidArgument) << backend.status();
    EXPECT_FALSE(backend.status().message().empty());
  }
}

TEST(MakeBackend, UnknownNameListsTheValidOnes) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("dtrace");
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(backend.status().message().find("ptrace, preload, ebpf, kernel, auto"),
            absl::string_view::npos)
      << backend.status();
}

// In Bazel's sandbox (a user namespace) the kernel refuses BPF even to root: auto never picks
// ebpf there, and traces as it does on a host without it.
TEST(MakeBackend, AutoNeverPicksEbpfWhereTheKernelRefusesIt) {
  if (testing_internal::HostRefusal("ebpf").empty()) {
    GTEST_SKIP() << "ebpf can run here (outside the sandbox); auto_test covers this case";
  }
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("auto");
  ASSERT_TRUE(backend.ok()) << backend.status();
  CollectingSink sink;
  Command command;
  command.argv = {"/bin/true"};
  ASSERT_TRUE((*backend)->Run(command, {}, &sink).ok());
  for (const auto& r : sink.records()) {
    EXPECT_EQ(r.path.find("ebpf"), std::string::npos) << r.path;
  }
  EXPECT_FALSE(sink.records().empty());
}

// `ebpf` is a known name: made, or refused with the reason (this test runs in Bazel's sandbox,
// where the kernel refuses BPF even to root), never "unknown".
TEST(MakeBackend, EbpfIsKnownAndARefusalNamesTheReason) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("ebpf");
  if (!backend.ok()) {
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable) << backend.status();
    EXPECT_NE(backend.status().message().find("ebpf backend: "), absl::string_view::npos);
    return;
  }
  EXPECT_EQ((*backend)->name(), "ebpf");
  CollectingSink sink;
  Command command;
  command.argv = {"/bin/true"};
  absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, {}, &sink);
  if (!exit.ok()) {
    EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnavailable) << exit.status();
    EXPECT_NE(exit.status().message().find("the kernel refused BPF"), absl::string_view::npos)
        << exit.status();
  }
}

}  // namespace
}  // namespace filemon
