// The preload supervisor's named socket, seen from a second local user. Its abstract name is
// visible to every user (/proc/net/unix); it was predictable ("filemon-preload-PID-N"): a
// second user who bound it before the run received the records of every traced process that
// lost its descriptor and reconnected, and they were missing from the log. The name now has a
// random part and a name taken anyway is replaced (supervisor_channel.cc, ListenOnFreshName):
// the squatter below, on the old names, hears nothing and the log has the records.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/testing/trace_harness.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

using testing_internal::kAutoWithoutEbpf;
using testing_internal::MakeTempDir;
using testing_internal::TestProgram;
using testing_internal::TraceCommand;
using testing_internal::TraceResult;
using testing_internal::WriteFile;

// As user 65534: binds the names the next runs of this process would use, says 'B' on
// `report`, then accepts and reads; says 'G' for every message received. Never returns.
[[noreturn]] void Squat(pid_t victim, int report) {
  if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
  int listeners[8];
  for (int i = 0; i < 8; ++i) {
    listeners[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    const std::string name = absl::StrCat("filemon-preload-", victim, "-", i);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + name.size();
    if (bind(listeners[i], reinterpret_cast<struct sockaddr*>(&addr), len) != 0 ||
        listen(listeners[i], 8) != 0) {
      _exit(3);
    }
  }
  if (write(report, "B", 1) != 1) _exit(4);
  for (;;) {
    for (int listener : listeners) {
      const int conn = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
      if (conn < 0) continue;
      char buf[4096];
      for (int tries = 0; tries < 100; ++tries) {
        if (recv(conn, buf, sizeof(buf), 0) > 0 && write(report, "G", 1) != 1) _exit(4);
        usleep(1000);
      }
      close(conn);
    }
    usleep(1000);
  }
}

TEST(SupervisorSocket, NameBoundFirstByAnotherUserIsNotUsed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as a second user (setresuid)";
  const std::string dir = MakeTempDir("squat");
  const std::string file = dir + "/secret";
  ASSERT_TRUE(WriteFile(file, "x").ok());
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t victim = getpid();
  const pid_t squatter = fork();
  ASSERT_GE(squatter, 0);
  if (squatter == 0) {
    close(report[0]);
    Squat(victim, report[1]);
  }
  close(report[1]);
  char c = 0;
  if (read(report[0], &c, 1) != 1 || c != 'B') {
    kill(squatter, SIGKILL);
    waitpid(squatter, nullptr, 0);
    GTEST_SKIP() << "cannot become a second user or bind the names here";
  }
  Command command;
  command.argv = {TestProgram("raw_close_open_bin"), file};
  absl::StatusOr<TraceResult> result = TraceCommand(kAutoWithoutEbpf, command, TraceOptions());
  usleep(300 * 1000);  // let the squatter read what it was sent
  kill(squatter, SIGKILL);
  waitpid(squatter, nullptr, 0);
  std::string heard;
  while (read(report[0], &c, 1) == 1) heard += c;
  close(report[0]);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit.code, 0) << result->log;
  EXPECT_EQ(heard, "") << "another user's socket received records of the traced process";
  EXPECT_TRUE(result->Has(RecordKind::kRead, file)) << result->log;
}

}  // namespace
}  // namespace filemon
