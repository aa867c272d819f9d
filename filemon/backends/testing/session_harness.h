// File: filemon/backends/testing/session_harness.h
//
// What the session suites (session_test.cc, session_child_test.cc) share: a command run the way
// bmake's job mode runs one under a `TraceSession` (vfork, PrepareChild, exec, SetChild), a
// prepared child that runs code of its own, and the fixture over backend names.

#ifndef FILEMON_BACKENDS_TESTING_SESSION_HARNESS_H_
#define FILEMON_BACKENDS_TESTING_SESSION_HARNESS_H_

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/tree_order.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {

// One command under a session: vforked, prepared, exec'd, as bmake's job mode does it.
class Traced {
 public:
  // `sh -c script`.
  Traced(Backend* backend, const std::string& script, const TraceOptions& options = {})
      : Traced(backend, std::vector<std::string>{"/bin/sh", "sh", "-c", script}, options) {}

  // The program `path_and_argv[0]` with the argv that follows it, exec'd with execv.
  Traced(Backend* backend, const std::vector<std::string>& path_and_argv,
         const TraceOptions& options);

  // Finishes the session first (the command is still unreaped), then reaps the command.
  // Returns its wait status; the records are in `records()`.
  int Finish() {
    if (session_ == nullptr) return -1;
    EXPECT_TRUE(session_->Finish(&sink_).ok());
    int status = -1;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    return status;
  }

  // Ends the session before Finish(), as a caller that gives up does; returns the command's
  // wait status.
  int Abandon() {
    session_.reset();
    int status = -1;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    return status;
  }

  pid_t pid() const { return pid_; }
  const std::vector<OwnedRecord>& records() { return sink_.collected.records(); }

  // The kernel's order, with the command as the only root; empty if kept.
  std::string OrderError() { return std::string(sink_.order.status().message()); }

  bool Has(RecordKind kind, absl::string_view path) {
    for (const OwnedRecord& r : records()) {
      if (r.kind == kind && r.path == path) return true;
    }
    return false;
  }

  // True if a `#` comment contains `text`.
  bool Says(absl::string_view text) {
    for (const OwnedRecord& r : records()) {
      if (r.kind == RecordKind::kComment && absl::StrContains(r.path, text)) return true;
    }
    return false;
  }

  // The records as log lines, for a failure's message.
  std::string Log() {
    std::string log;
    for (const OwnedRecord& r : records()) absl::StrAppend(&log, r.ToString(), "\n");
    return log;
  }

 private:
  std::unique_ptr<TraceSession> session_;
  pid_t pid_ = -1;
  // Collects the records and checks their order as they come.
  struct OrderedSink : public RecordSink {
    void Add(const Record& record) override {
      order.Add(record, ++line);
      collected.Add(record);
    }
    CollectingSink collected;
    TreeOrderChecker order{TreeOrderOptions{TreeRoots::kFirstOnly, {}}};
    size_t line = 0;
  };
  OrderedSink sink_;
};

// Forks a child that prepares itself and runs `sh -c script`, as a caller of the session
// protocol does; returns its pid (-1 if fork failed).
pid_t ForkShell(TraceSession* session, const char* script);

// One command of a session whose child, once prepared, runs `child()` (which exits, or execs)
// rather than a shell: forks it, sets it as the session's child, reaps it, finishes the
// session. What it logged is in `log` (one line per record); returns its wait status, or -1.
struct PreparedRun {
  template <typename Fn>
  PreparedRun(Backend* backend, Fn child) {
    absl::StatusOr<std::unique_ptr<TraceSession>> session = backend->StartSession({});
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return;
    pid = fork();
    if (pid == 0) {
      if ((*session)->PrepareChild() != 0) _exit(121);
      child();
      _exit(120);
    }
    if (pid < 0 || !(*session)->SetChild(pid).ok() || waitpid(pid, &status, 0) != pid) return;
    CollectingSink sink;
    EXPECT_TRUE((*session)->Finish(&sink).ok());
    for (const OwnedRecord& r : sink.records()) absl::StrAppend(&log, r.ToString(), "\n");
  }
  bool ExitedWith(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

  pid_t pid = -1;
  int status = -1;
  std::string log;
};

class SessionSuite : public ::testing::TestWithParam<const char*> {
 protected:
  // Skips where the backend cannot run here or has no sessions; makes `dir_`, a scratch
  // directory of the backend's own.
  void SetUp() override;

  std::unique_ptr<Backend> backend_;
  std::string dir_;
};

}  // namespace testing_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_TESTING_SESSION_HARNESS_H_
