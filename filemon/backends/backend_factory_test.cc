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

TEST(MakeBackend, UnavailableBackendsSayWhyAndWhere) {
  struct Case {
    absl::string_view name;
    absl::StatusCode code;
    absl::string_view issue;
  };
  constexpr Case kCases[] = {
      {"kernel", absl::StatusCode::kUnimplemented, "issue 7"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(c.name));
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(c.name);
    ASSERT_FALSE(backend.ok());
    EXPECT_EQ(backend.status().code(), c.code);
    EXPECT_NE(backend.status().message().find(c.issue), absl::string_view::npos)
        << backend.status();
  }
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
