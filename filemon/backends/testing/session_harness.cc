#include "filemon/backends/testing/session_harness.h"

#include <stdlib.h>

#include "filemon/backends/backend_factory.h"

namespace filemon {
namespace testing_internal {

namespace {

// vforks a child that prepares itself for `session` and execs `path`; returns its pid. A
// function of its own so that nothing of the caller's frame is live across the vfork.
__attribute__((noinline)) pid_t VforkPrepared(TraceSession* session, const char* path,
                                              char* const* argv) {
  const pid_t pid = vfork();
  if (pid == 0) {
    if (session->PrepareChild() != 0) _exit(126);
    execv(path, argv);
    _exit(127);
  }
  return pid;
}

}  // namespace

Traced::Traced(Backend* backend, const std::vector<std::string>& path_and_argv,
               const TraceOptions& options) {
  absl::StatusOr<std::unique_ptr<TraceSession>> session = backend->StartSession(options);
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return;
  session_ = *std::move(session);
  std::vector<char*> argv;
  for (size_t i = 1; i < path_and_argv.size(); ++i) {
    argv.push_back(const_cast<char*>(path_and_argv[i].c_str()));
  }
  argv.push_back(nullptr);
  pid_ = VforkPrepared(session_.get(), path_and_argv[0].c_str(), argv.data());
  EXPECT_TRUE(session_->SetChild(pid_).ok());
}

pid_t ForkShell(TraceSession* session, const char* script) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (session->PrepareChild() != 0) _exit(121);
    execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    _exit(122);
  }
  return pid;
}

void SessionSuite::SetUp() {
  const std::string refusal = testing_internal::HostRefusal(GetParam());
  if (!refusal.empty()) GTEST_SKIP() << GetParam() << " cannot run here: " << refusal;
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(GetParam());
  if (!backend.ok()) GTEST_SKIP() << backend.status();
  backend_ = *std::move(backend);
  absl::StatusOr<std::unique_ptr<TraceSession>> probe = backend_->StartSession({});
  if (absl::IsUnimplemented(probe.status())) {
    GTEST_SKIP() << GetParam() << " has no sessions yet (issue 21): " << probe.status();
  }
  const char* tmp = getenv("TEST_TMPDIR");
  dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", GetParam());
  ASSERT_EQ(system(absl::StrCat("rm -rf ", dir_, " && mkdir -p ", dir_).c_str()), 0);
}

}  // namespace testing_internal
}  // namespace filemon
