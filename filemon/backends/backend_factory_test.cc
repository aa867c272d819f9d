#include "filemon/backends/backend_factory.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

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
