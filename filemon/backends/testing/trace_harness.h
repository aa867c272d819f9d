// File: filemon/backends/testing/trace_harness.h
//
// Runs a real command under a backend chosen by name and returns what the backend recorded, as
// the FreeBSD log text and as the records parsed back from it (so every case also checks that
// the log is well-formed and in the kernel's order); runs the same command under `strace -f`
// and turns strace's successful file operations into the same records, for cross-checks.
// Shared by every backend's tests (see backend_conformance.h).
//
// Example:
//   absl::StatusOr<TraceResult> r = TraceCommand("ptrace", ShellCommand("cat /etc/motd"), {});
//   EXPECT_TRUE(r->Has(RecordKind::kRead, "/etc/motd")) << r->log;

#ifndef FILEMON_BACKENDS_TESTING_TRACE_HARNESS_H_
#define FILEMON_BACKENDS_TESTING_TRACE_HARNESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace testing_internal {

// A record that owns its paths.
struct OwnedRecord {
  RecordKind kind = RecordKind::kComment;
  int64_t pid = 0;
  int64_t child_pid = 0;
  int64_t status = 0;
  int64_t signal = 0;
  std::string path;
  std::string path2;

  static OwnedRecord From(const Record& record);
  // The record's log line, without its newline.
  std::string ToString() const;
};

// Copies every record it is given.
class CollectingSink : public RecordSink {
 public:
  void Add(const Record& record) override { records_.push_back(OwnedRecord::From(record)); }
  std::vector<OwnedRecord>& records() { return records_; }

 private:
  std::vector<OwnedRecord> records_;
};

struct TraceResult {
  ExitStatus exit;
  std::vector<OwnedRecord> records;
  std::string log;  // the log text (records only, no header/footer)

  int Count(RecordKind kind, absl::string_view path) const;
  bool Has(RecordKind kind, absl::string_view path) const { return Count(kind, path) > 0; }
  bool HasTwo(RecordKind kind, absl::string_view from, absl::string_view to) const;
  // The records of `kind` in order.
  std::vector<const OwnedRecord*> Of(RecordKind kind) const;
  // Distinct pids that produced any record.
  std::vector<int64_t> Pids() const;
};

// A backend name for the tests of `auto` as it is where ebpf cannot run (not root, Bazel's
// sandbox): preload, with ptrace for the programs the interposer cannot enter. As root outside
// the sandbox, "auto" itself traces runs with ebpf.
inline constexpr char kAutoWithoutEbpf[] = "auto-without-ebpf";

// MakeBackend(name) (backend_factory.h), or for kAutoWithoutEbpf that `auto`.
absl::StatusOr<std::unique_ptr<Backend>> MakeTestBackend(absl::string_view name);

// Runs `command` under the backend `backend_name` (MakeTestBackend). Errors include a log
// that does not parse or that breaks the kernel's order of F and X (filemon/core/tree_order.h,
// with the first record's pid as the only root); the message ends with the log.
absl::StatusOr<TraceResult> TraceCommand(absl::string_view backend_name, const Command& command,
                                         const TraceOptions& options);

// The reason the running test is listed in kKnownOrderBugs (trace_harness.cc) for `backend`:
// its logs are known to break the kernel's order today. nullptr when it is not listed. For a
// listed test TraceCommand does not fail on the order (the test's other checks still run);
// the order cases of the conformance suite skip themselves.
const char* KnownOrderBug(absl::string_view backend);

// Why this host cannot trace with `backend_name` (a trial run of /bin/true refused with
// Unavailable: not root, no BTF, BPF refused in Bazel's sandbox...), for GTEST_SKIP; empty
// when it can. Any other failure is the backend's own and returns empty, so that the tests
// show it. Computed once per name.
std::string HostRefusal(absl::string_view backend_name);

// What multiset `a` holds more of than `b`: one line "KEY xN" per key (in key order), "" when
// nothing. For comparing two backends' records of the same command.
std::string Difference(const std::map<std::string, int>& a, const std::map<std::string, int>& b);

// For tests that run many commands at once, each writing a file of its own whose path holds
// "/out_": runs `command` on `backend` and says what is wrong with the run, "" when nothing: it
// failed or exited non-zero, a W names another run's file (a path holding "/out_" that is not
// `output`), or, when `own_write_expected`, no W names `output`.
std::string ProblemOfARun(Backend* backend, const Command& command, const std::string& output,
                          bool own_write_expected);

// `/bin/sh -c script` in `cwd` (empty: the caller's).
Command ShellCommand(absl::string_view script, absl::string_view cwd = "");

// A fresh, empty directory under TEST_TMPDIR (or /tmp), without symlinks in its path.
std::string MakeTempDir(absl::string_view name);

// This process's environment, as KEY=VALUE entries.
std::vector<std::string> OurEnvironment();

// True if `argv` runs untraced with the environment `env` and exits 0.
bool RunsUntraced(const std::vector<std::string>& argv, const std::vector<std::string>& env);

// For commands at the kernel's limit on an exec's argv and environment: the largest `n` for
// which `command(n)` runs untraced with `env`, where 1 does and 40,000 (beyond the limit with
// arguments of any length) does not; 0 if the search cannot start.
size_t MostArgumentsThatRun(const std::function<std::vector<std::string>(size_t)>& command,
                            const std::vector<std::string>& env);

// The runfiles path of a program built in filemon/backends/testing (e.g. "static_open_bin").
std::string TestProgram(absl::string_view name);

// Writes `contents` to `path`.
absl::Status WriteFile(const std::string& path, absl::string_view contents);

// The contents of `path`, or "" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or 0 if the process is gone.
char ProcessState(int pid);

// Is `program` on PATH?
bool OnPath(absl::string_view program);

// A set-user-ID root copy of id(1), `DIR/id`, in a fresh directory DIR under /tmp that every
// user can reach (TEST_TMPDIR may not be); returns its path. REQUIRES: root. The caller
// removes DIR.
absl::StatusOr<std::string> MakeSetuidRootId();

// Runs `command` under `strace -f` (the same traced calls as the ptrace backend) and returns
// the successful file operations as records (A R W C D L M E; no F/X), with the same path rules
// as the backend's default mode: dirfd-relative paths prefixed by the directory, fchdir as the
// resolved directory. Unavailable if strace is not installed.
absl::StatusOr<std::vector<OwnedRecord>> StraceFileRecords(const Command& command);

}  // namespace testing_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_TESTING_TRACE_HARNESS_H_
