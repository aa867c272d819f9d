// RunControl (filemon/core/run_control.h) through every backend that runs on Linux: a signal
// held until the command starts, one passed to the living command, and one passed to the
// orphans once the command has exited.

#include "filemon/core/run_control.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::ReadFileOrEmpty;
using testing_internal::ShellCommand;
using testing_internal::TraceCommand;
using testing_internal::TraceResult;

// Waits (up to 20 s) until `path` is non-empty.
bool WaitForFile(const std::string& path) {
  for (int i = 0; i < 2000; ++i) {
    if (!ReadFileOrEmpty(path).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits (up to 20 s) until process `pid` no longer exists (exited and reaped).
bool WaitUntilGone(int pid) {
  for (int i = 0; i < 2000; ++i) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class RunControlTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RunControlTest, SignalBeforeTheRunIsHeldForTheCommand) {
  RunControl control;
  TraceOptions options;
  options.control = &control;
  control.Signal(SIGTERM);
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), ShellCommand("sleep 20"), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.signal, SIGTERM) << r->log;
  EXPECT_EQ(r->exit.signal_after_exit, 0);
}

TEST_P(RunControlTest, SignalWhileTheCommandRunsReachesItAlone) {
  std::string dir = MakeTempDir("living");
  RunControl control;
  TraceOptions options;
  options.control = &control;
  std::thread sender([&] {
    if (WaitForFile(dir + "/ready")) control.Signal(SIGTERM);
  });
  absl::StatusOr<TraceResult> r =
      TraceCommand(GetParam(),
                   ShellCommand("trap 'echo got > got; exit 3' TERM; echo x > ready; "
                                "while :; do sleep 0.05; done",
                                dir),
                   options);
  sender.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.code, 3) << r->log;
  EXPECT_EQ(r->exit.signal_after_exit, 0);
  EXPECT_TRUE(r->Has(RecordKind::kWrite, "got")) << r->log;
}

// A signal the command got and died of is not also passed to what it left, however fast the
// backend reaps it: untraced, `kill -TERM` of the shell leaves its background job running.
TEST_P(RunControlTest, SignalThatEndsTheCommandIsNotPassedToItsOrphans) {
  for (int run = 0; run < 5; ++run) {
    SCOPED_TRACE(absl::StrCat("run ", run));
    std::string dir = MakeTempDir("ends");
    RunControl control;
    TraceOptions options;
    options.control = &control;
    std::thread sender([&] {
      if (WaitForFile(dir + "/sleep")) control.Signal(SIGTERM);
    });
    absl::StatusOr<TraceResult> r =
        TraceCommand(GetParam(), ShellCommand("sleep 0.5 & echo $! > sleep; wait", dir), options);
    sender.join();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit.signal, SIGTERM) << r->log;
    EXPECT_EQ(r->exit.signal_after_exit, 0) << r->log;
    EXPECT_NE(
        r->log.find(absl::StrCat("X ", atoi(ReadFileOrEmpty(dir + "/sleep").c_str()), " 0 0\n")),
        std::string::npos)
        << r->log;
  }
}

TEST_P(RunControlTest, SignalAfterTheCommandExitedReachesWhatItLeft) {
  std::string dir = MakeTempDir("orphans");
  RunControl control;
  TraceOptions options;
  options.control = &control;
  std::thread sender([&] {
    if (!WaitForFile(dir + "/shell") || !WaitForFile(dir + "/sleep")) return;
    if (!WaitUntilGone(atoi(ReadFileOrEmpty(dir + "/shell").c_str()))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the backend saw the exit
    // After the exit, whatever its origin. (Not SIGINT: sh starts its background jobs with
    // SIGINT ignored.)
    control.Signal(SIGTERM, SignalOrigin::kProcessGroup);
  });
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<TraceResult> r = TraceCommand(
      GetParam(), ShellCommand("sleep 30 & echo $! > sleep; echo $$ > shell; exit 0", dir),
      options);
  const auto took = std::chrono::steady_clock::now() - start;
  sender.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0);
  EXPECT_EQ(r->exit.signal_after_exit, SIGTERM);
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_NE(r->log.find(absl::StrCat("X ", atoi(ReadFileOrEmpty(dir + "/sleep").c_str()), " 0 ",
                                     SIGTERM, "\n")),
            std::string::npos)
      << r->log;
}

INSTANTIATE_TEST_SUITE_P(Backends, RunControlTest, ::testing::Values("ptrace", "preload", "auto"));

}  // namespace
}  // namespace filemon
