#include "filemon/backends/kernel/kernel_backend.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/kernel/filemon_device.h"
#include "filemon/backends/kernel/kernel_backend_internal.h"
#include "filemon/backends/kernel/testing.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using kernel_testing::TextSink;

Command TrueCommand() {
  Command command;
  command.argv = {"/bin/true"};
  return command;
}

std::unique_ptr<Backend> BackendOn(std::string device_path) {
  KernelBackendOptions options;
  options.device_path = std::move(device_path);
  return NewKernelBackendUnchecked(options);
}

TEST(KernelBackend, UnavailableOnLinuxNamingTheDeviceAndTheAlternatives) {
  if (PlatformHasFilemonDevice()) GTEST_SKIP() << "this system has filemon(4)";
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeKernelBackend();
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(backend.status().message(),
            absl::StrCat("open(/dev/filemon): ", std::strerror(ENOENT),
                         ": /dev/filemon is the FreeBSD/NetBSD filemon(4) kernel device, which "
                         "this system does not have; use the ptrace backend (--backend=ptrace) "
                         "or the preload backend (--backend=preload) instead"));
}

TEST(KernelBackend, RunOnANonFilemonDeviceFailsAtSetFd) {
  std::unique_ptr<Backend> backend = BackendOn("/dev/null");
  EXPECT_EQ(backend->name(), "kernel");
  TextSink sink;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), {}, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_TRUE(absl::StartsWith(exit.status().message(), "ioctl(/dev/null, FILEMON_SET_FD, "))
      << exit.status();
  EXPECT_TRUE(absl::EndsWith(exit.status().message(), "/dev/null is not a filemon(4) device"))
      << exit.status();
  EXPECT_EQ(sink.text, "");
}

TEST(KernelBackend, MissingDeviceIsUnavailable) {
  std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/filemon");
  std::unique_ptr<Backend> backend = BackendOn(path);
  TextSink sink;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), {}, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(exit.status().message(), absl::StrCat("open(", path, ")")));
}

TEST(KernelBackend, AbsolutePathsAreRefused) {
  std::unique_ptr<Backend> backend = BackendOn(kFilemonDevicePath);
  TextSink sink;
  TraceOptions options;
  options.absolute_paths = true;
  absl::StatusOr<ExitStatus> exit = backend->Run(TrueCommand(), options, &sink);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(exit.status().message(), "ptrace or preload")) << exit.status();
}

// The whole backend on the real device: records of a shell and its child, exit status.
TEST(KernelBackend, RoundTripOnTheRealDevice) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeKernelBackend();
  if (!backend.ok()) GTEST_SKIP() << "no usable filemon(4) device: " << backend.status();
  std::string dir = std::getenv("TEST_TMPDIR");
  TextSink sink;
  Command command;
  command.argv = {"/bin/sh", "-c", "cat /etc/hosts > out.txt; (sleep 0.2; :) & exit 3"};
  command.cwd = dir;
  absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, {}, &sink);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 3);
  EXPECT_TRUE(absl::StrContains(sink.text, " /bin/sh\n")) << sink.text;
  EXPECT_TRUE(absl::StrContains(sink.text, " /etc/hosts\n")) << sink.text;
  EXPECT_TRUE(absl::StrContains(sink.text, " out.txt\n")) << sink.text;
  EXPECT_FALSE(absl::StrContains(sink.text, "# ")) << "no header or footer lines";
  // The orphaned subshell's exit is in the log: Run waited for it.
  size_t forks = 0, exits = 0;
  for (size_t p = 0; (p = sink.text.find('\n', p)) != std::string::npos; ++p) {
    if (sink.text.compare(p + 1, 2, "F ") == 0) ++forks;
    if (sink.text.compare(p + 1, 2, "X ") == 0) ++exits;
  }
  if (sink.text.compare(0, 2, "X ") == 0) ++exits;
  EXPECT_EQ(exits, forks + 1) << sink.text;
}

}  // namespace
}  // namespace filemon
