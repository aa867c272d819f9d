// Real programs under the preload backend (and auto without a fallback): the records they
// must produce, the records they must not, and the ways programs try to escape an
// interposer.

#include "filemon/backends/preload/preload_backend.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

class LinesSink : public RecordSink {
 public:
  void Add(const Record& record) override { AppendRecord(record, &text_); }
  const std::string& text() const { return text_; }
  std::vector<std::string> lines() const { return absl::StrSplit(text_, '\n', absl::SkipEmpty()); }

 private:
  std::string text_;
};

struct Traced {
  ExitStatus exit;
  std::string log;
  std::vector<std::string> lines;
};

std::string TmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string Runfile(const std::string& name) {
  absl::StatusOr<std::string> path = FindPreloadFile(name);
  EXPECT_TRUE(path.ok()) << path.status();
  return path.ok() ? *path : name;
}

Traced Trace(std::vector<std::string> argv, bool absolute = false, std::string cwd = "") {
  PreloadOptions options;
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakePreloadBackend(std::move(options));
  EXPECT_TRUE(backend.ok());
  Command command;
  command.argv = std::move(argv);
  command.cwd = std::move(cwd);
  TraceOptions trace;
  trace.absolute_paths = absolute;
  LinesSink sink;
  absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, trace, &sink);
  EXPECT_TRUE(exit.ok()) << exit.status();
  Traced t;
  if (exit.ok()) t.exit = *exit;
  t.log = sink.text();
  t.lines = sink.lines();
  return t;
}

// Lines "<letter> <pid> <rest>" with the given letter and rest.
int Count(const Traced& t, char letter, const std::string& rest) {
  int n = 0;
  for (const std::string& line : t.lines) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f.size() == 3 && f[0].size() == 1 && f[0][0] == letter && f[2] == rest) ++n;
  }
  return n;
}

std::string Program() { return Runfile("preload_test_program"); }

// The second user of SecondUserCannotWriteIntoTheLog, in a forked child: waits for the
// supervisor's socket, connects, sends a forged record, the command's exit and the end; tries
// to open each of the supervisor's descriptors. Writes 'C' (connected) and 'O' (opened a
// descriptor) to `report`. Returns the exit code.
int ActAsSecondUser(pid_t supervisor, int report) {
  using preload_internal::MessageHeader;
  using preload_internal::MessageType;
  using preload_internal::WireKind;
  using preload_internal::WireRecord;
  const std::string prefix = absl::StrCat("@filemon-preload-", supervisor, "-");
  std::string name;
  for (int tries = 0; tries < 500 && name.empty(); ++tries) {
    std::ifstream unix_sockets("/proc/net/unix");
    std::string line;
    while (std::getline(unix_sockets, line)) {
      const size_t at = line.find(prefix);
      if (at != std::string::npos) name = line.substr(at + 1);
    }
    if (name.empty()) usleep(10 * 1000);
  }
  if (name.empty()) return 1;
  for (int fd = 0; fd < 1100; ++fd) {
    const std::string path = absl::StrCat("/proc/", supervisor, "/fd/", fd);
    for (int mode : {O_RDONLY, O_WRONLY}) {
      const int opened = open(path.c_str(), mode | O_CLOEXEC);
      if (opened >= 0 && write(report, "O", 1) == 1) close(opened);
    }
  }
  const int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + name.size();
  if (connect(s, reinterpret_cast<struct sockaddr*>(&addr), len) != 0) return 1;
  if (write(report, "C", 1) != 1) return 1;
  const std::string path = "/etc/INJECTED";
  for (MessageType type : {MessageType::kRecords, MessageType::kRootExit, MessageType::kDone}) {
    char message[sizeof(MessageHeader) + sizeof(WireRecord) + 16] = {};
    MessageHeader header{};
    header.type = type;
    header.sender = 4242;
    WireRecord record{};
    record.kind = type == MessageType::kRecords ? WireKind::kWrite : WireKind::kExit;
    record.pid = 4242;
    size_t size = sizeof(header) + sizeof(record);
    if (type == MessageType::kRecords) {
      record.len1 = static_cast<uint16_t>(path.size());
      std::memcpy(message + size, path.data(), path.size());
      size += path.size();
    }
    header.size = static_cast<uint16_t>(size);
    std::memcpy(message, &header, sizeof(header));
    std::memcpy(message + sizeof(header), &record, sizeof(record));
    send(s, message, size, MSG_NOSIGNAL);
  }
  close(s);
  return 0;
}

// A program of filemon/backends/testing.
std::string TestProgram(const std::string& name) {
  const char* srcdir = getenv("TEST_SRCDIR");
  std::string path =
      std::string(srcdir != nullptr ? srcdir : ".") + "/filemon/filemon/backends/testing/" + name;
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

TEST(PreloadBackend, ShellFileOperations) {
  std::string dir = TmpDir() + "/shell_ops";
  mkdir(dir.c_str(), 0755);
  Traced t = Trace({"/bin/sh", "-c",
                    "cd " + dir +
                        " && echo hi > a && cat a > /dev/null && mv a b && ln b c && ln -s b d && "
                        "rm c d && mkdir e && rmdir e && cat missing 2>/dev/null; exit 7"});
  EXPECT_EQ(t.exit.code, 7) << t.log;
  if (getenv("PRELOAD_TEST_VERBOSE")) fprintf(stderr, "%s", t.log.c_str());
  EXPECT_EQ(Count(t, 'E', "/bin/sh"), 1) << t.log;
  EXPECT_EQ(Count(t, 'C', dir), 1) << t.log;
  EXPECT_EQ(Count(t, 'W', "a"), 1) << t.log;
  EXPECT_EQ(Count(t, 'R', "a"), 1) << t.log;
  EXPECT_EQ(Count(t, 'M', "'a' 'b'"), 1) << t.log;
  EXPECT_EQ(Count(t, 'L', "'b' 'c'"), 1) << t.log;
  EXPECT_EQ(Count(t, 'L', "'b' 'd'"), 1) << t.log;
  EXPECT_EQ(Count(t, 'D', "c"), 1) << t.log;
  EXPECT_EQ(Count(t, 'D', "d"), 1) << t.log;
  EXPECT_EQ(Count(t, 'D', "e"), 1) << t.log;
  EXPECT_EQ(Count(t, 'R', "missing"), 0) << "a failed open is not a record\n" << t.log;
  EXPECT_GE(Count(t, 'R', "/etc/ld.so.cache"), 1) << "the loader's opens\n" << t.log;
  EXPECT_TRUE(absl::StrContains(t.log, " 7 0\n")) << t.log;  // X pid 7 0
}

TEST(PreloadBackend, EightThreadsTenThousandOpensEachLoseNothing) {
  std::string file = TmpDir() + "/stress";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "threads", "8", "10000", file});
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_EQ(Count(t, 'R', file), 80000);
  for (const std::string& line : t.lines) {
    ASSERT_TRUE(line[0] == '#' || (line.size() > 2 && line[1] == ' ')) << "torn: " << line;
  }
}

TEST(PreloadBackend, SurvivesClosingAllDescriptors) {
  std::string file = TmpDir() + "/after_close_all";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "close_all", file});
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_EQ(Count(t, 'R', file), 1) << t.log;
  Traced raw = Trace({Program(), "raw_close", file});
  EXPECT_EQ(raw.exit.code, 0);
  EXPECT_EQ(Count(raw, 'R', file), 1) << "reconnects through the named socket\n" << raw.log;
}

// execl's list longer than the interposer's stack array goes through pages of its own.
TEST(PreloadBackend, ExeclWithALongArgumentList) {
  std::string file = TmpDir() + "/execl_300";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "execl_300", file});
  EXPECT_EQ(t.exit.code, 0) << t.log;
  EXPECT_EQ(Count(t, 'E', "/bin/cat"), 1) << t.log;
  EXPECT_EQ(Count(t, 'R', file), 300) << t.log;
}

TEST(PreloadBackend, SurvivesClearedEnvironment) {
  std::string file = TmpDir() + "/clearenv";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "clearenv", "cat", file});
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_EQ(Count(t, 'R', file), 1) << t.log;
  Traced env = Trace({"/usr/bin/env", "-i", "/bin/cat", file});
  EXPECT_EQ(Count(env, 'R', file), 1) << env.log;
}

TEST(PreloadBackend, DlopenAndRawSyscallAndSignalHandler) {
  std::string file = TmpDir() + "/raw";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "dlopen", "libz.so.1"});
  EXPECT_EQ(t.exit.code, 0) << t.log;
  bool saw = false;
  for (const std::string& line : t.lines) saw |= absl::StrContains(line, "libz.so.1");
  EXPECT_TRUE(saw) << t.log;
  Traced raw = Trace({Program(), "raw_open", file});
  EXPECT_EQ(Count(raw, 'R', file), 1) << raw.log;
  Traced sig = Trace({Program(), "signal_open", file});
  EXPECT_EQ(Count(sig, 'R', file), 1) << sig.log;
}

TEST(PreloadBackend, ForkVforkSpawnAndExits) {
  std::string file = TmpDir() + "/forked";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "fork_no_exec", file});
  EXPECT_EQ(t.exit.code, 0);
  ASSERT_EQ(Count(t, 'R', file), 1) << t.log;
  EXPECT_TRUE(absl::StrContains(t.log, "\nF ")) << t.log;
  EXPECT_TRUE(absl::StrContains(t.log, " 3 0\n")) << "the child's X\n" << t.log;
  for (const char* how : {"spawn", "vfork"}) {
    Traced s = Trace({Program(), how, "/bin/cat", file});
    EXPECT_EQ(s.exit.code, 0) << how;
    EXPECT_EQ(Count(s, 'E', "/bin/cat"), 1) << how << "\n" << s.log;
    EXPECT_EQ(Count(s, 'R', file), 1) << how << "\n" << s.log;
    EXPECT_TRUE(absl::StrContains(s.log, "\nF ")) << how << "\n" << s.log;
  }
}

// The pid of the single record `letter ... rest`, or "" if there is not exactly one.
std::string PidOf(const Traced& t, char letter, const std::string& rest) {
  std::string pid;
  int n = 0;
  for (const std::string& line : t.lines) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f.size() == 3 && f[0].size() == 1 && f[0][0] == letter && f[2] == rest) {
      pid = f[1];
      ++n;
    }
  }
  return n == 1 ? pid : "";
}

// Forks that do not pass through the program's own call of fork (daemon(3) forks inside libc)
// and records made by a program's atfork child handler (which runs before ours): the child's
// records carry the child's pid, the one its F names.
TEST(PreloadBackend, DaemonAndAtforkHandlersRecordUnderTheChildsPid) {
  std::string file = TmpDir() + "/daemon_reads";
  std::ofstream(file) << "x";
  for (const char* how : {"daemon", "atfork_open"}) {
    Traced t = Trace({Program(), how, file});
    EXPECT_EQ(t.exit.code, 0) << how;
    const std::string root = PidOf(t, 'E', Program());
    const std::string reader = PidOf(t, 'R', file);
    ASSERT_FALSE(reader.empty()) << how << "\n" << t.log;
    EXPECT_NE(reader, root) << how << "\n" << t.log;
    EXPECT_TRUE(absl::StrContains(t.log, "\nF " + root + " " + reader + "\n")) << how << "\n"
                                                                               << t.log;
  }
}

TEST(PreloadBackend, PosixSpawnFileActionsAreTheChildsRecords) {
  std::string dir = TmpDir() + "/spawn_actions";
  mkdir(dir.c_str(), 0755);
  Traced t = Trace({Program(), "spawn_actions", dir, "out"});
  EXPECT_EQ(t.exit.code, 0) << t.log;
  EXPECT_EQ(Count(t, 'C', dir), 1) << t.log;
  EXPECT_EQ(Count(t, 'W', "out"), 1) << t.log;
  // Both under the child's pid, the one that exec'd /bin/true.
  std::string exec_pid, write_pid;
  for (const std::string& line : t.lines) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f.size() == 3 && f[0] == "E" && f[2] == "/bin/true") exec_pid = f[1];
    if (f.size() == 3 && f[0] == "W" && f[2] == "out") write_pid = f[1];
  }
  EXPECT_FALSE(exec_pid.empty()) << t.log;
  EXPECT_EQ(exec_pid, write_pid) << t.log;
}

// What exec passes on: the supervisor's variables, the shared locale cache's name and the
// locale cache (here two setlocale(LC_ALL, "") entries under different variables, grown from
// parent to child: over 1,000 bytes), whole.
TEST(PreloadBackend, ExecPassesOnTheVariablesAndTheLocaleCache) {
  std::string dir = TmpDir() + "/exec_env";
  mkdir(dir.c_str(), 0755);
  Traced t = Trace({"/bin/sh", "-c",
                    "LANG=C.UTF-8 " + Program() + " locale all /usr/bin/env LC_TIME=C.UTF-8 " +
                        Program() + " locale all /usr/bin/env > env.txt"},
                   false, dir);
  ASSERT_EQ(t.exit.code, 0) << t.log;
  std::ifstream in(dir + "/env.txt");
  std::string line, locale;
  std::set<std::string> names;
  while (std::getline(in, line)) {
    names.insert(line.substr(0, line.find('=')));
    if (absl::StartsWith(line, "FILEMON_PRELOAD_LOCALE=")) locale = line;
  }
  for (const char* name : {"LD_PRELOAD", "FILEMON_PRELOAD_FD", "FILEMON_PRELOAD_PID",
                           "FILEMON_PRELOAD_SOCKET", "FILEMON_PRELOAD_LOCALE_SHM"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
  if (absl::StrContains(t.log, "/LC_IDENTIFICATION\n")) {  // the windows saw locale files
    EXPECT_TRUE(absl::StrContains(locale, "/LC_IDENTIFICATION")) << locale;
    EXPECT_GT(locale.size(), 1000u) << locale;
  }
}

TEST(PreloadBackend, KilledBySignalGetsItsX) {
  Traced t = Trace({"/bin/sh", "-c", Program() + " kill_self; exit 0"});
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_TRUE(absl::StrContains(t.log, " 0 9\n")) << t.log;
  Traced root = Trace({Program(), "kill_self"});
  EXPECT_EQ(root.exit.signal, 9);
  EXPECT_TRUE(absl::StrContains(root.log, " 0 9\n")) << root.log;
}

TEST(PreloadBackend, StaticProgramIsNeverSilentlyLost) {
  std::string dir = TmpDir() + "/static";
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/in") << "x";
  std::string prog = TestProgram("static_open_bin");
  // Exec'd by a shell, and as the command itself: E and a comment saying why the rest is
  // missing.
  Traced t = Trace({"/bin/sh", "-c", prog + " in out"}, false, dir);
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_EQ(Count(t, 'E', prog), 1) << t.log;
  EXPECT_TRUE(absl::StrContains(t.log, "statically linked")) << t.log;
  Traced root = Trace({prog, "in", "out"}, false, dir);
  EXPECT_EQ(Count(root, 'E', prog), 1) << root.log;
  EXPECT_TRUE(absl::StrContains(root.log, "statically linked")) << root.log;
}

TEST(PreloadBackend, OpenatWithDirfdGetsPrefixAndClue) {
  std::string dir = TmpDir() + "/find";
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/f1") << "x";
  Traced t = Trace({"/usr/bin/find", dir, "-name", "f1", "-exec", "/bin/cat", "{}", ";"});
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_EQ(Count(t, 'R', dir + "/f1"), 1) << t.log;
}

// Paths of ~3,000 bytes: more than the 1 KiB a call's message starts with, as the path itself,
// as a getcwd prefix (--absolute) and as a dirfd's readlink prefix (find's openat). Each record
// must arrive whole, with its prefix.
TEST(PreloadBackend, RecordsLongerThanASmallMessageArriveWhole) {
  const std::string top = TmpDir() + "/long";
  mkdir(top.c_str(), 0755);
  std::string dir = top;
  for (int i = 0; i < 30; ++i) {
    dir += "/" + std::string(95, static_cast<char>('a' + i % 26));
    mkdir(dir.c_str(), 0755);
  }
  ASSERT_GT(dir.size(), 2900u);
  std::ofstream(dir + "/f") << "x";

  Traced as_passed = Trace({"/bin/cat", dir + "/f"});
  EXPECT_EQ(Count(as_passed, 'R', dir + "/f"), 1) << as_passed.log;

  Traced cwd_prefix = Trace({"/bin/cat", "f"}, /*absolute=*/true, dir);
  EXPECT_EQ(Count(cwd_prefix, 'R', dir + "/f"), 1) << cwd_prefix.log;

  Traced dirfd_prefix = Trace({"/usr/bin/find", top, "-name", "f"});
  EXPECT_EQ(dirfd_prefix.exit.code, 0);
  EXPECT_EQ(Count(dirfd_prefix, 'R', dir), 1) << dirfd_prefix.log;
}

TEST(PreloadBackend, AbsolutePaths) {
  std::string dir = TmpDir() + "/absolute";
  mkdir(dir.c_str(), 0755);
  Traced t = Trace({"/bin/sh", "-c", "echo x > rel"}, /*absolute=*/true, dir);
  EXPECT_EQ(Count(t, 'W', dir + "/rel"), 1) << t.log;
}

// The first way `lines` breaks the order FreeBSD's filemon guarantees (F in the parent's fork):
// `F P C` before every record of C and before P's X, P a process of the tree (the command or
// a pid some F named), nothing of a pid after its X. "" if there is none.
std::string KernelOrderViolation(const std::vector<std::string>& lines) {
  std::set<std::string> known, exited, active;
  bool first = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], absl::MaxSplits(' ', 3));
    if (f.size() < 2 || f[0] == "#") continue;
    const std::string where = absl::StrCat("line ", i + 1, " (", lines[i], "): ");
    const std::string& pid = f[1];
    if (first) known.insert(pid), first = false;  // the command
    if (known.count(pid) == 0) return where + "a record of a pid no F named";
    if (exited.count(pid) != 0) return where + "a record after the pid's X";
    active.insert(pid);
    if (f[0] == "F" && f.size() >= 3) {
      if (active.count(f[2]) != 0) return where + "F after a record of the child";
      known.insert(f[2]);
      exited.erase(f[2]);
    }
    if (f[0] == "X") exited.insert(pid), active.erase(pid);
  }
  return "";
}

// Races that the order must survive, each run several times: a parent that forks and exits at
// once (by itself, in daemon(3), through popen), posix_spawn with file actions from a parent
// that does not wait, and a record too large for the pipe followed by small ones.
TEST(PreloadBackend, KernelOrderWhenTheParentExitsAtOnce) {
  const std::string dir = TmpDir() + "/order";
  mkdir(dir.c_str(), 0755);
  const std::string file = dir + "/in";
  std::ofstream(file) << "x";
  const std::vector<std::vector<std::string>> commands = {
      {Program(), "fork_exit", file},
      {Program(), "daemon_slow", file},
      {Program(), "spawn_nowait", dir, "out", "/bin/cat", file},
      {Program(), "popen_exit", file},
      {Program(), "long_rename", dir, dir + "/after"},
      {Program(), "clone_vm", file},
  };
  for (const std::vector<std::string>& command : commands) {
    for (int round = 0; round < 8; ++round) {
      Traced t = Trace(command);
      EXPECT_EQ(t.exit.code, 0) << t.log;
      const std::string violation = KernelOrderViolation(t.lines);
      EXPECT_EQ(violation, "") << command[1] << " round " << round << "\n" << t.log;
      if (!violation.empty()) break;
    }
  }
}

// A spawned child's file actions are its records, between its F and its E.
TEST(PreloadBackend, SpawnFileActionsComeBetweenTheChildsFAndE) {
  const std::string dir = TmpDir() + "/spawn_order";
  mkdir(dir.c_str(), 0755);
  Traced t = Trace({Program(), "spawn_nowait", dir, "out", "/bin/true"});
  ASSERT_EQ(t.exit.code, 0) << t.log;
  const std::string child = PidOf(t, 'E', "/bin/true");
  ASSERT_FALSE(child.empty()) << t.log;
  std::vector<std::string> mine;
  for (const std::string& line : t.lines) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f.size() == 3 && (f[0] == "F" ? f[2] == child : f[1] == child)) {
      mine.push_back(f[0] + " " + (f[0] == "F" ? "" : f[2]));
    }
  }
  ASSERT_GE(mine.size(), 4u) << t.log;
  EXPECT_EQ(mine[0], "F ") << t.log;
  EXPECT_EQ(mine[1], "C " + dir) << t.log;
  EXPECT_EQ(mine[2], "W out") << t.log;
  EXPECT_EQ(mine[3], "E /bin/true") << t.log;
}

// A traced process cannot end the run or set the command's exit status: those messages come
// only from the reaper's own channel.
TEST(PreloadBackend, TracedProcessCannotForgeTheEndOfTheRun) {
  const std::string file = TmpDir() + "/after_forgery";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "forge_end", file});
  EXPECT_EQ(t.exit.code, 3) << t.log;
  EXPECT_EQ(Count(t, 'R', file), 1) << t.log;
  EXPECT_TRUE(absl::StrContains(t.log, "ignored 4 control messages")) << t.log;
}

// The abstract socket's name is visible to every user (/proc/net/unix). As a second user:
// connect to it and send a record and the end of the run; open the supervisor's descriptors
// (the pipe, the shared locale memory) through /proc. Nothing of it may reach the log.
TEST(PreloadBackend, SecondUserCannotWriteIntoTheLog) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as a second user (setresuid)";
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t supervisor = getpid();
  const pid_t attacker = fork();
  ASSERT_GE(attacker, 0);
  if (attacker == 0) {
    close(report[0]);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    _exit(ActAsSecondUser(supervisor, report[1]));
  }
  close(report[1]);
  Traced t = Trace({"/bin/sh", "-c", "sleep 1; exit 3"});
  int status = 0;
  ASSERT_EQ(waitpid(attacker, &status, 0), attacker);
  std::string what;
  char c;
  while (read(report[0], &c, 1) == 1) what += c;
  close(report[0]);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    GTEST_SKIP() << "cannot become a second user here (a sandbox's user namespace maps only root)";
  }
  ASSERT_TRUE(absl::StrContains(what, "C")) << "the second user never found the socket: " << what;
  EXPECT_FALSE(absl::StrContains(what, "O")) << "the second user opened a descriptor: " << what;
  EXPECT_EQ(t.exit.code, 3) << t.log;
  EXPECT_FALSE(absl::StrContains(t.log, "INJECTED")) << t.log;
  EXPECT_TRUE(absl::StrContains(t.log, "refused 1 connections from outside the traced tree"))
      << t.log;
}

// Run() keeps no state between runs: several threads may run commands at once on one instance
// (issue 20), each getting its own complete log.
TEST(PreloadBackend, ConcurrentRunsOnOneInstanceKeepTheirOwnLogs) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakePreloadBackend(PreloadOptions());
  ASSERT_TRUE(backend.ok());
  constexpr int kThreads = 4;
  constexpr int kRuns = 10;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string file = absl::StrCat(TmpDir(), "/concurrent_", i);
      std::ofstream(file) << "x";
      for (int run = 0; run < kRuns && failures[i].empty(); ++run) {
        Command command;
        command.argv = {"/bin/sh", "-c",
                        absl::StrCat("cat ", file, " && (cat ", file, "; exit 3); exit ", 10 + i)};
        LinesSink sink;
        absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, TraceOptions(), &sink);
        const std::string log = sink.text();
        int reads = 0, exits = 0;
        for (const std::string& line : sink.lines()) {
          reads += absl::StartsWith(line, "R ") && absl::EndsWith(line, " " + file);
          exits += absl::StartsWith(line, "X ");
        }
        if (!exit.ok() || exit->code != 10 + i || reads != 2 || exits != 4 ||
            !KernelOrderViolation(sink.lines()).empty()) {
          failures[i] = absl::StrCat("thread ", i, " run ", run, ": ",
                                     exit.ok() ? "" : exit.status().ToString(), "\n", log);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
}

// The exec wrappers build the new environment in fixed room: a huge environment, exec'd from a
// thread with a small stack, is passed on unchanged (the log says so) instead of overflowing
// the stack with an array sized by it.
TEST(PreloadBackend, HugeEnvironmentFromASmallStackIsPassedOnUnchanged) {
  const std::string file = TmpDir() + "/bigenv";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "bigenv_thread", "/bin/cat", file});
  EXPECT_EQ(t.exit.code, 0) << t.log.substr(0, 4000);
  EXPECT_EQ(Count(t, 'R', file), 1) << t.log.substr(0, 4000);
  EXPECT_TRUE(absl::StrContains(t.log, "entries is passed on unchanged")) << t.log.substr(0, 4000);
}

// The exec and spawn wrappers fit a small stack: a thread with a 32 KiB stack (twice
// PTHREAD_STACK_MIN) may posix_spawn, system and exec, as it may untraced.
TEST(PreloadBackend, ExecAndSpawnFromASmallThreadStack) {
  const std::string file = TmpDir() + "/small_stack";
  std::ofstream(file) << "x";
  Traced t = Trace({Program(), "small_stack", "/bin/cat", file});
  EXPECT_EQ(t.exit.code, 0) << t.log.substr(0, 4000);
  EXPECT_EQ(Count(t, 'R', file), 3) << t.log.substr(0, 4000);
}

TEST(PreloadBackend, SetuidProgramIsSaidInTheLog) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a set-user-ID program of another user";
  std::string prog = TmpDir() + "/setuid_cat";
  std::ifstream in("/bin/cat", std::ios::binary);
  std::ofstream(prog, std::ios::binary) << in.rdbuf();
  if (chown(prog.c_str(), 65534, 65534) != 0) {
    GTEST_SKIP() << "cannot chown a file to another user here (sandbox user namespace)";
  }
  ASSERT_EQ(chmod(prog.c_str(), 04755), 0);
  Traced t = Trace({"/bin/sh", "-c", prog + " /dev/null"});
  EXPECT_TRUE(absl::StrContains(t.log, "set-user-ID")) << t.log;
  // What is missing: the subtree too, not only the program's own operations.
  EXPECT_TRUE(absl::StrContains(t.log, "nor those of any program it starts")) << t.log;
}

}  // namespace
}  // namespace filemon
