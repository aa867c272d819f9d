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

// Probes (TraceOptions::probes) until the interposer learns them (issue 22): preload refuses,
// auto traces the whole command with ptrace and says so first.
TEST(MakeBackend, PreloadRefusesProbesAndAutoTracesThemWithPtrace) {
  Command command;
  command.argv = {"/bin/sh", "-c", "cat /nonexistent/probe 2>/dev/null; true"};
  TraceOptions options;
  options.probes = true;
  absl::StatusOr<std::unique_ptr<Backend>> preload = MakeBackend("preload");
  ASSERT_TRUE(preload.ok()) << preload.status();
  CollectingSink refused;
  absl::StatusOr<ExitStatus> exit = (*preload)->Run(command, options, &refused);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(exit.status().message().find("--probes"), absl::string_view::npos) << exit.status();

  absl::StatusOr<std::unique_ptr<Backend>> automatic = MakeBackend("auto");
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  CollectingSink sink;
  exit = (*automatic)->Run(command, options, &sink);
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_FALSE(sink.records().empty());
  EXPECT_EQ(sink.records()[0].kind, RecordKind::kComment);
  EXPECT_NE(sink.records()[0].path.find("cannot record probes (--probes) yet: tracing the whole "
                                        "command with ptrace"),
            std::string::npos)
      << sink.records()[0].path;
  bool probed = false;
  for (const auto& r : sink.records()) {
    probed |= r.kind == RecordKind::kNotFound && r.path == "/nonexistent/probe";
  }
  EXPECT_TRUE(probed);
}

TEST(MakeBackend, UnknownNameListsTheValidOnes) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("dtrace");
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(backend.status().message().find("ptrace, preload, kernel, auto"),
            absl::string_view::npos)
      << backend.status();
}

}  // namespace
}  // namespace filemon
