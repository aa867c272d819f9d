// Programs of the traced tree that run without the interposer: the log must say so, never
// lose their records silently.
// A traced process that becomes a user who cannot read the interposer (setpriv here; runuser,
// a daemon dropping root alike): the program it then execs cannot load the library, so it
// runs untraced, named, and as it would untraced (no loader error on its standard error).
// Needs root, to be a second user; the library is copied into a directory only root can
// enter, so that the second user cannot read it wherever the build put the original.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/preload/preload_backend.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::MakeTempDir;
using testing_internal::MostArgumentsThatRun;
using testing_internal::OurEnvironment;
using testing_internal::OwnedRecord;
using testing_internal::ReadFileOrEmpty;
using testing_internal::TestProgram;
using testing_internal::TraceCommand;
using testing_internal::TraceResult;
using testing_internal::WriteFile;

constexpr char kSetpriv[] = "/usr/bin/setpriv";

// Copies the preload backend's files into a directory of mode 0700 and points
// FILEMON_PRELOAD_DIR at it for the test's lifetime.
class PrivateLibrary {
 public:
  PrivateLibrary() {
    dir_ = MakeTempDir("private_library");
    ok_ = chmod(dir_.c_str(), 0700) == 0;
    for (const char* name : {"libfilemon_preload.so", "filemon_preload_helper"}) {
      absl::StatusOr<std::string> found = FindPreloadFile(name);
      if (!found.ok()) continue;  // the helper is optional
      const std::string copy = absl::StrCat(dir_, "/", name);
      ok_ = ok_ && WriteFile(copy, ReadFileOrEmpty(*found)).ok() && chmod(copy.c_str(), 0755) == 0;
    }
    setenv("FILEMON_PRELOAD_DIR", dir_.c_str(), 1);
  }
  ~PrivateLibrary() { unsetenv("FILEMON_PRELOAD_DIR"); }
  bool ok() const { return ok_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool ok_ = false;
};

class UntracedUserTest : public ::testing::TestWithParam<const char*> {};

// True if a comment of `r` contains `text`.
bool HasComment(const TraceResult& r, absl::string_view text) {
  for (const OwnedRecord* comment : r.Of(RecordKind::kComment)) {
    if (absl::StrContains(comment->path, text)) return true;
  }
  return false;
}

// Under preload and under auto as it is where ebpf cannot run (as root it would trace with ebpf,
// which sees every program). A backend that traces the program records its read instead of
// writing the note; either is no silent loss.
TEST_P(UntracedUserTest, AProgramThatCannotLoadTheInterposerIsNamed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a command as a second user";
  if (access(kSetpriv, X_OK) != 0) GTEST_SKIP() << "needs " << kSetpriv << " (util-linux)";
  PrivateLibrary library;
  ASSERT_TRUE(library.ok()) << library.dir();
  // A file user 65534 can read, which only the program under test opens.
  char public_dir[] = "/tmp/untraced_user_XXXXXX";
  ASSERT_NE(mkdtemp(public_dir), nullptr);
  ASSERT_EQ(chmod(public_dir, 0755), 0);
  const std::string file = absl::StrCat(public_dir, "/file");
  ASSERT_TRUE(WriteFile(file, "x").ok());
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  const std::string err = MakeTempDir("untraced_user") + "/stderr";
  Command c;
  c.argv = {kSetpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/cat", file};
  c.stdout_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  c.stderr_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(c.stdout_fd, 0);
  ASSERT_GE(c.stderr_fd, 0);
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, TraceOptions());
  close(c.stdout_fd);
  close(c.stderr_fd);
  unlink(file.c_str());
  rmdir(public_dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log << ReadFileOrEmpty(err);
  EXPECT_TRUE(r->Has(RecordKind::kExec, "/bin/cat")) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kRead, file) ||
              HasComment(*r, "(/bin/cat) runs untraced: the loader cannot read"))
      << r->log;
  EXPECT_EQ(ReadFileOrEmpty(err), "") << "the program did not run as it would untraced";
}

// A program exec'd behind the wrappers' back (the execve system call made directly, with an
// empty environment) starts without the interposer: the supervisor sees the process end
// without its own X, and says so.
TEST_P(UntracedUserTest, AProgramExecdBehindTheWrappersBackIsNamed) {
  Command c;
  c.argv = {TestProgram("raw_exec_bin"), "/bin/true"};
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, TraceOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  if (r->exit.ShellStatus() == 77) GTEST_SKIP() << "no raw execve for this architecture";
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  const std::vector<const OwnedRecord*> exits = r->Of(RecordKind::kExit);
  ASSERT_EQ(exits.size(), 1u) << r->log;
  EXPECT_TRUE(r->Has(RecordKind::kExec, "/bin/true") ||
              HasComment(*r, absl::StrCat(" filemon: pid ", exits[0]->pid,
                                          " ran its last program untraced")))
      << r->log;
}

// fexecve at the kernel's limit on argv and environment runs as it does untraced (the
// conformance suite has exec and posix_spawn; a backend other than preload's may name the
// program by its descriptor).
TEST_P(UntracedUserTest, AnFexecveAtTheKernelsLimitRuns) {
  auto command = [](size_t n) {
    return std::vector<std::string>{TestProgram("long_exec_bin"), "fexecve", absl::StrCat(n), "99",
                                    "/bin/true"};
  };
  const size_t n = MostArgumentsThatRun(command, OurEnvironment());
  ASSERT_GT(n, 0u);
  Command c;
  c.argv = command(n);
  c.env = OurEnvironment();
  absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, TraceOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
  if (!HasComment(*r, " auto: tracing with ")) {  // the interposer ran it
    // The descriptor's path, as the kernel has it (/usr/bin/true where /bin is a link).
    char* resolved = realpath("/bin/true", nullptr);
    ASSERT_NE(resolved, nullptr);
    EXPECT_TRUE(r->Has(RecordKind::kExec, resolved)) << r->log;
    free(resolved);
  }
}

// system(3) and popen(3) start their shell inside glibc with the environment, where the
// interposer's variables may push it over the kernel's limit: the shell still runs, traced,
// or untraced with a note. Entries of 2,500 bytes: an environment of more entries than the
// interposer has room for (environment.h) is passed on as it is, ours included.
TEST_P(UntracedUserTest, ASystemShellAtTheKernelsLimitRuns) {
  for (const char* mode : {"system", "popen"}) {
    SCOPED_TRACE(mode);
    auto entries = [mode](size_t n) {
      return std::vector<std::string>{TestProgram("long_exec_bin"), mode, absl::StrCat(n), "2500",
                                      "exec /bin/true"};
    };
    const size_t n = MostArgumentsThatRun(entries, OurEnvironment());
    ASSERT_GT(n, 0u);
    // Then the padding that brings it to the limit within a few bytes.
    auto padded = [&](size_t pad) {
      std::vector<std::string> argv = entries(n);
      argv.push_back(absl::StrCat(pad));
      return argv;
    };
    const size_t pad = MostArgumentsThatRun(padded, OurEnvironment());
    ASSERT_GT(pad, 0u);
    Command c;
    c.argv = padded(pad);
    c.env = OurEnvironment();
    absl::StatusOr<TraceResult> r = TraceCommand(GetParam(), c, TraceOptions());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit.ShellStatus(), 0) << r->log;
    EXPECT_TRUE(r->Has(RecordKind::kExec, "/bin/true") || HasComment(*r, "runs untraced"))
        << r->log;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, UntracedUserTest,
                         ::testing::Values("preload", testing_internal::kAutoWithoutEbpf));

}  // namespace
}  // namespace filemon
