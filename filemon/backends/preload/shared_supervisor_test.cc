// The shared supervisor (shared_supervisor.h) as bmake drives it through preload sessions:
// the caller finishes its own tree, so that a plain command costs the supervisor thread no
// wakeup; what the caller cannot finish (orphans) the thread finishes; an event loop that
// polls ReadFd() alone, never reaping first, gets every record without spinning.

#include "filemon/backends/preload/shared_supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/preload/pidfd_exit.h"
#include "filemon/backends/preload/preload_backend.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

class PathSink : public RecordSink {
 public:
  void Add(const Record& record) override { paths.emplace_back(record.path); }
  bool Has(const std::string& path) const {
    for (const std::string& p : paths) {
      if (p == path) return true;
    }
    return false;
  }
  std::vector<std::string> paths;
};

std::string Scratch(const std::string& name) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  EXPECT_EQ(system(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir).c_str()), 0);
  return dir;
}

// How a command's process is made: vfork as bmake's compat mode (one thread), fork where
// threads start commands at once (after vfork the child points the shared `environ` at its
// session's environment until it execs).
enum class Fork { kVfork, kFork };

class SharedSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Backend>> backend = MakePreloadBackend();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
  }

  // `sh -c script` under a new session, as bmake runs a command.
  std::unique_ptr<TraceSession> Start(const std::string& script, pid_t* pid,
                                      Fork how = Fork::kVfork) {
    absl::StatusOr<std::unique_ptr<TraceSession>> session = backend_->StartSession({});
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return nullptr;
    TraceSession* s = session->get();
    const char* text = script.c_str();
    *pid = how == Fork::kVfork ? vfork() : fork();
    if (*pid == 0) {
      if (s->PrepareChild() != 0) _exit(121);
      execl("/bin/sh", "sh", "-c", text, static_cast<char*>(nullptr));
      _exit(122);
    }
    EXPECT_GT(*pid, 0);
    EXPECT_TRUE(s->SetChild(*pid).ok());
    return *std::move(session);
  }

  // bmake's compat mode: reaps the command, then finishes its session.
  void RunReaped(const std::string& script, PathSink* sink, Fork how = Fork::kVfork) {
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session = Start(script, &pid, how);
    if (session == nullptr) return;
    int status = -1;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << script << ": " << status;
    EXPECT_TRUE(session->Finish(sink).ok());
  }

  // An event loop on ReadFd() alone: Process() each time it polls readable, till done.
  static void ProcessOnReadFd(TraceSession* session, PathSink* sink) {
    pollfd p{session->ReadFd(), POLLIN, 0};
    bool done = false;
    for (int wakeups = 0; !done && wakeups < 100; ++wakeups) {
      ASSERT_EQ(poll(&p, 1, 30 * 1000), 1) << "ReadFd() stayed unreadable";
      absl::StatusOr<bool> d = session->Process(sink);
      ASSERT_TRUE(d.ok()) << d.status();
      done = *d;
    }
    EXPECT_TRUE(done) << "not done after 100 wakeups";
  }

  // Ends the command |pid| of |session| on its ReadFd(), which must have written |file|, and
  // reaps it.
  static void FinishOnReadFd(TraceSession* session, pid_t pid, const std::string& file) {
    PathSink sink;
    ProcessOnReadFd(session, &sink);
    EXPECT_TRUE(sink.Has(file));
    int status = -1;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
  }

  std::unique_ptr<Backend> backend_;
};

uint64_t ThreadWakeups() {
  absl::StatusOr<SharedSupervisor*> supervisor = SharedSupervisor::ForThisProcess();
  EXPECT_TRUE(supervisor.ok());
  return supervisor.ok() ? (*supervisor)->thread_wakeups() : 0;
}

// The point of the caller finishing its tree: a command that leaves no orphan ends without
// waking the supervisor thread (its ticks are timeouts, not counted).
TEST_F(SharedSupervisorTest, APlainCommandWakesNoSupervisorThread) {
  if (!KernelKeepsReapedExit()) {
    GTEST_SKIP() << "this kernel keeps no exit status for a reaped pidfd (Linux < 6.15): the "
                    "thread is woken by each command's exit to read it before the reaping";
  }
  const std::string dir = Scratch("plain");
  PathSink warm;
  RunReaped("true", &warm);  // the supervisor exists and ticks from now on
  const uint64_t before = ThreadWakeups();
  constexpr int kCommands = 40;
  for (int i = 0; i < kCommands; ++i) {
    PathSink sink;
    const std::string file = absl::StrCat(dir, "/", i);
    RunReaped(absl::StrCat(": > ", file), &sink);
    EXPECT_TRUE(sink.Has(file)) << i;
  }
  // A command that starts after a second's idleness wakes the thread once; none of these
  // should, but the machine may be slow enough for one such gap.
  EXPECT_LE(ThreadWakeups() - before, 2u) << "per " << kCommands << " commands";
}

class ExitSink : public RecordSink {
 public:
  void Add(const Record& record) override {
    if (record.kind == RecordKind::kExit) exits.push_back(record);
  }
  std::vector<Record> exits;
};

// bmake's job mode: the command is reaped (Job_CatchChildren), then its records are asked for
// (meta_job_finish). A command killed by a signal still gets its X with that signal: read
// through its pidfd after the reaping where the kernel keeps it (Linux 6.15+); elsewhere (here
// simulated) the thread, woken by the root's exit, reads it from the zombie. bmake's waitpid
// races that look and usually follows it; this test reaps once the thread has looked.
TEST_F(SharedSupervisorTest, AKilledCommandReapedBeforeFinishHasItsX) {
  absl::StatusOr<SharedSupervisor*> supervisor = SharedSupervisor::ForThisProcess();
  ASSERT_TRUE(supervisor.ok());
  enum class Kernel { kThis, kOld, kRefusesInfo };
  for (const Kernel kernel : {Kernel::kThis, Kernel::kOld, Kernel::kRefusesInfo}) {
    SCOPED_TRACE(kernel == Kernel::kThis  ? "this kernel"
                 : kernel == Kernel::kOld ? "kernel without a reaped pidfd's status"
                                          : "kernel that refuses PIDFD_GET_INFO");
    ScopedNoReapedExitForTesting simulated(kernel == Kernel::kOld);
    std::unique_ptr<ScopedRefusedPidfdInfoForTesting> refused;
    if (kernel == Kernel::kRefusesInfo) {
      refused = std::make_unique<ScopedRefusedPidfdInfoForTesting>();
      // One killed command, reaped before it is finished, finds the ioctl refused (its X may be
      // lost: the kernel said it keeps the status); the next is read before its reaping.
      pid_t first = -1;
      std::unique_ptr<TraceSession> session = Start("kill -TERM $$", &first);
      ASSERT_NE(session, nullptr);
      ASSERT_EQ(waitpid(first, nullptr, 0), first);
      ExitSink ignored;
      EXPECT_TRUE(session->Finish(&ignored).ok());
    }
    const uint64_t seen_before = (*supervisor)->thread_root_exits();
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session = Start("kill -TERM $$", &pid);
    ASSERT_NE(session, nullptr);
    siginfo_t info{};
    ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
    // Where the kernel keeps no status (simulated, or this one), the thread's look must come
    // first: the test waits for it rather than race it as bmake does.
    const bool thread_looks = !KernelKeepsReapedExit();
    for (int i = 0; thread_looks && i < 1000; ++i) {
      if ((*supervisor)->thread_root_exits() > seen_before) break;
      usleep(10 * 1000);
    }
    if (thread_looks) {
      EXPECT_GT((*supervisor)->thread_root_exits(), seen_before)
          << "the thread did not look at the exited root before the reaping";
    }
    int status = -1;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
    ExitSink sink;
    EXPECT_TRUE(session->Finish(&sink).ok());
    bool found = false;
    for (const Record& x : sink.exits) {
      if (x.pid != pid) continue;
      found = true;
      EXPECT_EQ(x.signal, SIGTERM);
    }
    EXPECT_TRUE(found) << "no X for the killed command " << pid;
  }
}

// Finish() before the command has exited (a caller that finishes, then reaps): the caller's
// thread waits for the root, not the supervisor's, and the log is whole.
TEST_F(SharedSupervisorTest, FinishBeforeTheExitWaitsInTheCallersThread) {
  const std::string dir = Scratch("early");
  PathSink warm;
  RunReaped("true", &warm);
  const uint64_t before = ThreadWakeups();
  for (int i = 0; i < 3; ++i) {
    const std::string file = absl::StrCat(dir, "/", i);
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session = Start(absl::StrCat("sleep 0.1; : > ", file), &pid);
    ASSERT_NE(session, nullptr);
    PathSink sink;
    EXPECT_TRUE(session->Finish(&sink).ok());
    EXPECT_TRUE(sink.Has(file)) << i;
    int status = -1;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  EXPECT_LE(ThreadWakeups() - before, 1u);
}

// bmake's order with an orphan that outlives the command: reaped first, then Finish(), which
// returns once the orphan has exited, with its records (the thread finishes such a tree).
TEST_F(SharedSupervisorTest, AnOrphanOutlivingTheReapedCommandIsWaitedFor) {
  const std::string dir = Scratch("orphan");
  for (const char* how : {"background", "daemon"}) {
    const std::string file = absl::StrCat(dir, "/", how);
    const std::string late = absl::StrCat("sleep 0.3; : > ", file);
    PathSink sink;
    RunReaped(how == std::string("daemon") ? absl::StrCat("setsid sh -c '", late, "' &")
                                           : absl::StrCat("(", late, ") &"),
              &sink);
    EXPECT_TRUE(sink.Has(file)) << how;
    struct stat st;
    EXPECT_EQ(stat(file.c_str(), &st), 0) << how << ": Finish returned before the orphan ended";
  }
}

// An event loop that polls ReadFd() alone and calls Process() when it is readable, never
// reaping first: done with every record, orphans' included, in a few wakeups (the descriptor
// is not left readable while an orphan runs).
TEST_F(SharedSupervisorTest, AnEventLoopOnReadFdAloneEndsWithoutSpinning) {
  const std::string dir = Scratch("readfd");
  for (const bool orphan : {false, true}) {
    const std::string file = absl::StrCat(dir, "/", orphan ? "orphan" : "plain");
    const std::string script = orphan ? absl::StrCat("(sleep 0.3; : > ", file, ") &")
                                      : absl::StrCat("sleep 0.2; : > ", file);
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session = Start(script, &pid);
    ASSERT_NE(session, nullptr);
    PathSink sink;
    int wakeups = 0;
    bool done = false;
    while (!done && wakeups < 100) {
      pollfd p{session->ReadFd(), POLLIN, 0};
      ASSERT_GE(p.fd, 0);
      ASSERT_EQ(poll(&p, 1, 30 * 1000), 1) << "ReadFd() stayed unreadable";
      ++wakeups;
      absl::StatusOr<bool> d = session->Process(&sink);
      ASSERT_TRUE(d.ok()) << d.status();
      done = *d;
    }
    EXPECT_TRUE(done);
    EXPECT_LE(wakeups, 3) << "orphan " << orphan;
    EXPECT_TRUE(sink.Has(file)) << "orphan " << orphan;
    int status = -1;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
  }
}

// bmake's jobs one after another, each polled on its ReadFd(): a command's descriptor is
// readable only once that command has exited, also when it is the set an earlier command
// polled, kept for it once empty (reused: the same number), and after a command whose orphan
// the thread finished (its set is not kept).
TEST_F(SharedSupervisorTest, AReadFdTurnsReadableOnlyOnceItsOwnCommandExited) {
  const std::string dir = Scratch("readfd_again");
  const std::vector<std::string> scripts = {"true", "sleep 0.2", "(sleep 0.2) &", "sleep 0.2",
                                            "sleep 0.2"};
  std::vector<int> fds;
  int first_set = -1;  // a copy of the first command's descriptor, which keeps its file apart
  for (size_t i = 0; i < scripts.size(); ++i) {
    SCOPED_TRACE(scripts[i]);
    const std::string file = absl::StrCat(dir, "/", i);
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session = Start(absl::StrCat(scripts[i], "\n: > ", file), &pid);
    ASSERT_NE(session, nullptr);
    const int fd = session->ReadFd();
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    if (i == 0) first_set = dup(fd);
    if (i == 1) {  // the same open file, not only the same number (kcmp KCMP_FILE)
      const long same = syscall(SYS_kcmp, getpid(), getpid(), 0, fd, first_set);
      if (same < 0 && errno != ENOSYS && errno != EPERM) ADD_FAILURE() << "kcmp: " << errno;
      if (same >= 0) {
        EXPECT_EQ(same, 0) << "the first command's set was not kept for the second";
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (i > 0) {
      EXPECT_EQ(poll(&p, 1, 0), 0) << "readable while its command runs";
    }
    FinishOnReadFd(session.get(), pid, file);
  }
  EXPECT_EQ(fds[1], fds[0]) << "the first command's set was not kept for the second";
  close(first_set);
}

// A child forked by another thread of the caller holds copies of its descriptors until it
// execs (close-on-exec), the running command's pidfd among them: that pidfd stays open after
// the caller's step closes its own, and an epoll set forgets a file only when its last copy
// closes. The set kept for the next command must not still hold the first one's exited root
// (readable at once: an event loop would spin).
TEST_F(SharedSupervisorTest, AKeptReadFdForgetsARootWhosePidfdAForkedChildHolds) {
  const std::string dir = Scratch("readfd_held");
  pid_t holder = -1;
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const std::string file = absl::StrCat(dir, "/", i);
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session =
        Start(absl::StrCat(i == 0 ? "true" : "sleep 0.3", "\n: > ", file), &pid);
    ASSERT_NE(session, nullptr);
    const int fd = session->ReadFd();
    ASSERT_GE(fd, 0);
    pollfd p{fd, POLLIN, 0};
    if (i == 0) {
      holder = fork();  // every descriptor of this process, the root's pidfd among them
      if (holder == 0) {
        pause();
        _exit(0);
      }
      ASSERT_GT(holder, 0);
    } else {
      EXPECT_EQ(poll(&p, 1, 0), 0) << "readable while its command runs";
    }
    FinishOnReadFd(session.get(), pid, file);
  }
  kill(holder, SIGKILL);
  EXPECT_EQ(waitpid(holder, nullptr, 0), holder);
}

// The same loop where no descriptor can be made once ReadFd() exists (EMFILE), as the tree is
// handed to the thread for its orphan: no eventfd for the thread's end, and the descriptor is
// still not left readable while the orphan runs (it turns readable at the end). In a forked
// child, whose descriptor limit is lowered and its table filled.
TEST_F(SharedSupervisorTest, AnEventLoopOnReadFdDoesNotSpinWithoutDescriptors) {
  const std::string file = Scratch("emfile") + "/orphan";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pid_t pid = -1;
    std::unique_ptr<TraceSession> session =
        Start(absl::StrCat("(sleep 0.3; : > ", file, ") &"), &pid);
    if (session == nullptr || session->ReadFd() < 0) _exit(10);
    const struct rlimit limit = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(11);
    while (dup(0) >= 0) {
    }
    if (eventfd(0, EFD_CLOEXEC) >= 0) _exit(12);  // the table is not full
    PathSink sink;
    int wakeups = 0;
    bool done = false;
    while (!done && wakeups < 100) {
      pollfd p{session->ReadFd(), POLLIN, 0};
      if (poll(&p, 1, 30 * 1000) != 1) _exit(13);  // stayed unreadable
      ++wakeups;
      absl::StatusOr<bool> d = session->Process(&sink);
      if (!d.ok()) _exit(14);
      done = *d;
    }
    if (!done) _exit(15);
    if (!sink.Has(file)) _exit(16);
    _exit(wakeups <= 3 ? 0 : 17);
  }
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 no session, 11 setrlimit, 12 table not full, "
                                       "13 unreadable, 14 Process failed, 15 spun (100 wakeups), "
                                       "16 record missing, 17 over 3 wakeups";
}

// A forked child of the caller (no exec) that uses an inherited session: Process and Finish
// fail at once rather than wait for a thread the child does not have, and dropping its copy
// leaves the parent's command alone; the parent finishes the session as usual.
TEST_F(SharedSupervisorTest, AForkedChildCannotUseItsParentsSession) {
  const std::string file = Scratch("forked") + "/late";
  pid_t pid = -1;
  std::unique_ptr<TraceSession> session = Start(absl::StrCat("sleep 0.3; : > ", file), &pid);
  ASSERT_NE(session, nullptr);
  absl::StatusOr<std::unique_ptr<TraceSession>> unstarted = backend_->StartSession({});
  ASSERT_TRUE(unstarted.ok()) << unstarted.status();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    PathSink sink;
    const absl::StatusOr<bool> processed = session->Process(&sink);
    if (processed.ok() || !absl::IsFailedPrecondition(processed.status())) _exit(10);
    if (!absl::IsFailedPrecondition(session->Finish(&sink))) _exit(11);
    errno = 0;
    if (session->ReadFd() != -1 || errno != EPERM) _exit(12);
    // Without SetChild, Finish would start the tree (taking its locks): it fails first.
    if (!absl::IsFailedPrecondition((*unstarted)->Finish(&sink))) _exit(13);
    session.reset();
    _exit(0);
  }
  int status = -1;
  pid_t reaped = 0;
  for (int i = 0; i < 1000 && reaped == 0; ++i) {
    reaped = waitpid(child, &status, WNOHANG);
    if (reaped == 0) usleep(10 * 1000);
  }
  if (reaped == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL() << "the forked child hung in its parent's session";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status << " (10: Process, 11: Finish, 12: ReadFd, 13: Finish without SetChild did "
      << "not fail as expected)";
  PathSink sink;
  EXPECT_TRUE((*unstarted)->Finish(&sink).ok());
  EXPECT_TRUE(session->Finish(&sink).ok());
  EXPECT_TRUE(sink.Has(file)) << "the child's drop killed the parent's command";
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// Two callers finish their trees at once, while a long command keeps the thread ticking on its
// pipe: each log holds its own command's records only.
TEST_F(SharedSupervisorTest, TwoThreadsFinishTheirTreesAtOnce) {
  const std::string dir = Scratch("threads");
  pid_t long_pid = -1;
  std::unique_ptr<TraceSession> long_session =
      Start(absl::StrCat("i=0; while [ $i -lt 2000 ]; do : > ", dir, "/long; i=$((i+1)); done"),
            &long_pid, Fork::kFork);
  ASSERT_NE(long_session, nullptr);
  constexpr int kCommands = 15;
  auto job = [this, &dir](int thread) {
    for (int i = 0; i < kCommands; ++i) {
      PathSink sink;
      const std::string mine = absl::StrCat(dir, "/", thread, "_", i);
      RunReaped(absl::StrCat(": > ", mine), &sink, Fork::kFork);
      EXPECT_TRUE(sink.Has(mine)) << mine;
      for (const std::string& path : sink.paths) {
        EXPECT_TRUE(path.find(dir) != 0 || path == mine) << mine << " got " << path;
      }
    }
  };
  std::thread a(job, 0), b(job, 1);
  a.join();
  b.join();
  PathSink long_sink;
  EXPECT_TRUE(long_session->Finish(&long_sink).ok());
  size_t long_opens = 0;
  for (const std::string& path : long_sink.paths) {
    EXPECT_TRUE(path.find(dir) != 0 || path == dir + "/long") << path;
    long_opens += path == dir + "/long";
  }
  EXPECT_EQ(long_opens, 2000u);
  int status = -1;
  EXPECT_EQ(waitpid(long_pid, &status, 0), long_pid);
}

// A session given up after its command was reaped, before it was asked for records: the next
// commands are traced as usual.
TEST_F(SharedSupervisorTest, ASessionDroppedAfterTheReapLeavesTheOthersAlone) {
  const std::string dir = Scratch("dropped");
  for (int i = 0; i < 5; ++i) {
    pid_t pid = -1;
    std::unique_ptr<TraceSession> dropped = Start(absl::StrCat(": > ", dir, "/dropped"), &pid);
    ASSERT_NE(dropped, nullptr);
    int status = -1;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    if (i % 2 == 1) {
      PathSink partial;  // a look first: the tree may be finished by it
      ASSERT_TRUE(dropped->Process(&partial).ok());
    }
    dropped.reset();
    PathSink sink;
    const std::string mine = absl::StrCat(dir, "/", i);
    RunReaped(absl::StrCat(": > ", mine), &sink);
    EXPECT_TRUE(sink.Has(mine));
    EXPECT_FALSE(sink.Has(dir + "/dropped"));
  }
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
