// Command::stdout_fd/stderr_fd and RunCapturingOutput (filemon/core/output_capture.h) under
// every Linux backend: the output of the whole tree is captured in order, the records still
// arrive, and the caller's own stdout is untouched.
#include "filemon/core/output_capture.h"

#include <string>

#include "absl/strings/match.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

class Collect : public RecordSink {
 public:
  void Add(const Record& record) override {
    if (record.kind == RecordKind::kExec) execs.push_back(std::string(record.path));
  }
  std::vector<std::string> execs;
};

TEST(RunCapturingOutput, EveryBackendCapturesTheTreesOutputInOrder) {
  for (const char* name : {"ptrace", "preload", "auto"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(name);
    ASSERT_TRUE(backend.ok()) << backend.status();
    Command command;
    command.argv = {"/bin/sh", "-c", "echo out; echo err >&2; /bin/sh -c 'echo child'; exit 4"};
    std::string output = "kept:";
    Collect sink;
    absl::StatusOr<ExitStatus> exit = RunCapturingOutput(**backend, command, {}, &sink, &output);
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(exit->code, 4);
    EXPECT_EQ(output, "kept:out\nerr\nchild\n");
    EXPECT_GE(sink.execs.size(), 2u);
  }
}

TEST(RunCapturingOutput, PassthroughCopiesAsItArrives) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend("auto");
  ASSERT_TRUE(backend.ok()) << backend.status();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Command command;
  command.argv = {"/bin/echo", "hello"};
  std::string output;
  Collect sink;
  CaptureOptions capture;
  capture.passthrough_fd = fds[1];
  ASSERT_TRUE(RunCapturingOutput(**backend, command, {}, &sink, &output, capture).ok());
  close(fds[1]);
  char buf[32] = {};
  EXPECT_EQ(read(fds[0], buf, sizeof buf), 6);
  close(fds[0]);
  EXPECT_EQ(std::string(buf), "hello\n");
  EXPECT_EQ(output, "hello\n");
}

TEST(CommandOutput, ADescriptorReceivesStdoutAndStderrSeparately) {
  for (const char* name : {"ptrace", "preload"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakeBackend(name);
    ASSERT_TRUE(backend.ok()) << backend.status();
    int out[2], err[2];
    ASSERT_EQ(pipe(out), 0);
    ASSERT_EQ(pipe(err), 0);
    Command command;
    command.argv = {"/bin/sh", "-c", "echo to-out; echo to-err >&2"};
    command.stdout_fd = out[1];
    command.stderr_fd = err[1];
    Collect sink;
    ASSERT_TRUE((*backend)->Run(command, {}, &sink).ok());
    close(out[1]);
    close(err[1]);
    char a[32] = {}, b[32] = {};
    EXPECT_EQ(read(out[0], a, sizeof a), 7);
    EXPECT_EQ(read(err[0], b, sizeof b), 7);
    close(out[0]);
    close(err[0]);
    EXPECT_EQ(std::string(a), "to-out\n");
    EXPECT_EQ(std::string(b), "to-err\n");
  }
}

}  // namespace
}  // namespace filemon
