#include "filemon/backends/ptrace/ptrace_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/ptrace/child_setup.h"
#include "filemon/backends/ptrace/process_tree.h"
#include "filemon/backends/ptrace/syscall_table.h"
#include "filemon/backends/session_log.h"
#include "filemon/backends/start_report.h"
#include "filemon/core/descriptor_error.h"
#include "filemon/core/find_program.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/run_control_internal.h"
#include "filemon/core/writer.h"

extern char** environ;

namespace filemon {
namespace {

using ptrace_internal::BuildSeccompFilter;
using ptrace_internal::ChildSetup;
using ptrace_internal::FilterOptions;
using ptrace_internal::PrepareTracedChild;
using ptrace_internal::ProcessTree;

absl::Status MakePipe(int fds[2], absl::string_view what) {
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return DescriptorError(errno, absl::StrCat("pipe2(", what, ")"));
  }
  return absl::OkStatus();
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Closes every descriptor of `pipes` (pairs; -1 entries are skipped) and returns `status`.
absl::Status CloseAll(std::initializer_list<int*> pipes, absl::Status status) {
  for (int* pair : pipes) {
    CloseFd(&pair[0]);
    CloseFd(&pair[1]);
  }
  return status;
}

ssize_t ReadFull(int fd, void* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, static_cast<char*>(data) + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

bool WriteFull(int fd, const void* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, static_cast<const char*>(data) + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// NULL-terminated views of a string vector; the strings must outlive it.
std::vector<char*> CArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The parent's side of the child handshake: after the child has handed its pid, seize it and
// let it go. On failure the child is left blocked and the caller kills it.
absl::Status SeizeChild(ProcessTree* tree, pid_t pid, int ready_fd, int go_fd) {
  pid_t reported = 0;
  ssize_t n = ReadFull(ready_fd, &reported, sizeof(reported));
  if (n != static_cast<ssize_t>(sizeof(reported))) {
    return absl::FailedPreconditionError("the child exited before it could be traced");
  }
  if (pid > 0 && reported != pid) {
    return absl::InternalError(
        absl::StrCat("child handshake: expected pid ", pid, ", got ", reported));
  }
  absl::Status seized = tree->Seize(reported);
  if (!seized.ok()) return seized;
  if (!WriteFull(go_fd, "g", 1)) return absl::ErrnoToStatus(errno, "write(go pipe)");
  return absl::OkStatus();
}

// The fork-it-yourself session: a tracer process (a grandchild of the caller, reparented away so
// that the caller never reaps it) traces the caller's child and writes FreeBSD text records into
// a memfd; the caller's side parses them back into its sink.
class PtraceSession : public TraceSession {
 public:
  static absl::StatusOr<std::unique_ptr<PtraceSession>> Start(const TraceOptions& options);
  ~PtraceSession() override;

  int PrepareChild() const override { return PrepareTracedChild(setup_); }
  absl::Status SetChild(int pid) override;
  int ReadFd() const override { return done_fd_.get(); }
  absl::StatusOr<bool> Process(RecordSink* sink) override;
  absl::Status Finish(RecordSink* sink) override;

 private:
  PtraceSession() = default;
  [[noreturn]] static void TracerMain(const TraceOptions& options, int ready_fd, int go_fd,
                                      int done_fd, int log_fd);
  // The child's ends of the handshake, owned by `ready_` and `go_` (-1 once closed).
  ChildSetup setup_;
  OwnedFd ready_, go_;
  pid_t tracer_ = -1;
  OwnedFd done_fd_;  // EOF once the tracer has exited
  OwnedFd log_fd_;   // the memfd the tracer writes
  bool done_ = false;
  bool child_set_ = false;
  std::unique_ptr<SessionLogReader> reader_;  // of log_fd_
};

void PtraceSession::TracerMain(const TraceOptions& options, int ready_fd, int go_fd, int done_fd,
                               int log_fd) {
  // Keep only what the tracer needs: holding copies of the caller's pipes would delay the EOFs
  // the caller waits for.
  int keep[] = {ready_fd, go_fd, done_fd, log_fd, 2};
  std::sort(std::begin(keep), std::end(keep));
  unsigned int from = 3;
  for (int fd : keep) {
    if (fd >= static_cast<int>(from)) {
      if (fd > static_cast<int>(from)) syscall(SYS_close_range, from, fd - 1, 0);
      from = static_cast<unsigned int>(fd) + 1;
    }
  }
  syscall(SYS_close_range, from, ~0U, 0);
  // Signals meant for the command or the caller's process group (a terminal's ^C, ^Z, a
  // `kill 0` on interrupt) reach the traced processes themselves; the tracer keeps tracing until
  // they are gone, so that the log is complete. The session's destructor uses SIGKILL.
  setpgid(0, 0);
  for (int sig : {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGTERM, SIGHUP, SIGPIPE}) {
    signal(sig, SIG_IGN);
  }
  // Every stop of a tracee sends this process SIGCHLD: a handler inherited from the caller
  // (bmake has one) would run here once per stop, for nothing. The default action drops it.
  signal(SIGCHLD, SIG_DFL);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &chld, nullptr);

  int status = 0;
  {
    Writer writer(log_fd, {});
    TraceOptions tracer_options = options;
    tracer_options.control = nullptr;  // the caller's, in another process: it signals its child
    ProcessTree tree(tracer_options, &writer);
    absl::Status s = SeizeChild(&tree, 0, ready_fd, go_fd);
    close(ready_fd);
    close(go_fd);
    if (!s.ok()) {
      // No child (the caller's fork failed, or the child died first): nothing to trace.
      status = 1;
    } else {
      absl::StatusOr<ExitStatus> exit = tree.Run();
      if (!exit.ok()) {
        std::string text = absl::StrCat(" filemon: tracer error: ", exit.status().ToString());
        writer.Add(Record::Comment(text));
        status = 2;
      }
    }
    if (!writer.Close().ok()) status = 3;
  }
  _exit(status);
}

absl::StatusOr<std::unique_ptr<PtraceSession>> PtraceSession::Start(const TraceOptions& options) {
  std::unique_ptr<PtraceSession> s(new PtraceSession);
  absl::Status built = BuildSeccompFilter(&s->setup_, FilterOptions{options.probes});
  if (!built.ok()) return built;
  int ready[2] = {-1, -1}, go[2] = {-1, -1}, done[2] = {-1, -1}, info[2] = {-1, -1};
  int log_fd = -1;
  auto fail = [&](absl::Status status) {
    CloseFd(&log_fd);
    return CloseAll({ready, go, done, info}, std::move(status));
  };
  absl::Status p = MakePipe(ready, "ready");
  if (p.ok()) p = MakePipe(go, "go");
  if (p.ok()) p = MakePipe(done, "done");
  if (p.ok()) p = MakePipe(info, "tracer pid");
  if (!p.ok()) return fail(p);
  log_fd = static_cast<int>(syscall(SYS_memfd_create, "filemon-session", MFD_CLOEXEC));
  if (log_fd < 0) return fail(absl::ErrnoToStatus(errno, "memfd_create(filemon-session)"));

  pid_t middle = fork();
  if (middle < 0) return fail(absl::ErrnoToStatus(errno, "fork(tracer)"));
  if (middle == 0) {
    pid_t tracer = fork();
    if (tracer == 0) {
      close(info[0]);
      close(info[1]);
      TracerMain(options, ready[0], go[1], done[1], log_fd);
    }
    WriteFull(info[1], &tracer, sizeof(tracer));
    _exit(tracer < 0 ? 1 : 0);
  }
  close(info[1]);
  pid_t tracer = -1;
  ssize_t n = ReadFull(info[0], &tracer, sizeof(tracer));
  close(info[0]);
  int middle_status;
  while (waitpid(middle, &middle_status, 0) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  close(go[1]);
  close(done[1]);
  s->ready_.reset(ready[1]);
  s->go_.reset(go[0]);
  s->setup_.ready_fd = ready[1];
  s->setup_.go_fd = go[0];
  s->done_fd_.reset(done[0]);
  s->log_fd_.reset(log_fd);
  if (n != static_cast<ssize_t>(sizeof(tracer)) || tracer <= 0) {
    return absl::InternalError("could not start the tracer process");
  }
  s->tracer_ = tracer;
  s->setup_.tracer_pid = tracer;
  s->reader_ = std::make_unique<SessionLogReader>(log_fd);
  return s;
}

PtraceSession::~PtraceSession() {
  if (!done_ && tracer_ > 0) kill(tracer_, SIGKILL);  // PTRACE_O_EXITKILL takes the tree along
}

absl::Status PtraceSession::SetChild(int pid) {
  child_set_ = true;
  // The child holds its own copies; without ours, the tracer sees EOF if the child dies early.
  ready_.reset();
  go_.reset();
  setup_.ready_fd = setup_.go_fd = -1;
  return absl::OkStatus();
}

absl::StatusOr<bool> PtraceSession::Process(RecordSink* sink) {
  if (!done_) {
    pollfd p{done_fd_.get(), POLLIN, 0};
    if (poll(&p, 1, 0) > 0) {
      char c;
      ssize_t n;
      do {
        n = read(done_fd_.get(), &c, 1);
      } while (n < 0 && errno == EINTR);
      if (n == 0) done_ = true;
    }
  }
  absl::Status s = reader_->Deliver(sink, done_);
  if (!s.ok()) return s;
  return done_;
}

absl::Status PtraceSession::Finish(RecordSink* sink) {
  if (!child_set_) {
    absl::Status s = SetChild(-1);
    if (!s.ok()) return s;
  }
  while (!done_) {
    char c;
    ssize_t n = read(done_fd_.get(), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read(tracer done pipe)");
    if (n == 0) done_ = true;
  }
  return reader_->Deliver(sink, true);
}

class PtraceBackend : public Backend {
 public:
  absl::string_view name() const override { return "ptrace"; }
  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override;
  absl::StatusOr<std::unique_ptr<TraceSession>> StartSession(const TraceOptions& options) override {
    absl::StatusOr<std::unique_ptr<PtraceSession>> s = PtraceSession::Start(options);
    if (!s.ok()) return s.status();
    return std::unique_ptr<TraceSession>(std::move(*s));
  }
};

// What the tracing thread needs, prepared by `Run()` in the caller's thread (the child between
// fork and exec allocates nothing).
struct TraceJob {
  const Command* command;
  const TraceOptions* options;
  RecordSink* sink;
  const char* program;
  char* const* argv;
  char** env;
  const char* cwd;
  const ChildSetup* setup;
  int ready_read, go_write, failed_write;  // the parent's and the child's ends
  sigset_t caller_mask;                    // the caller thread's signal mask, for the command
  absl::StatusOr<ExitStatus> result;
};

// The command between fork and exec: async-signal-safe calls only. The tracing thread blocks
// every signal, so none can run a caller's handler here; the command gets the caller's mask and
// default actions for the caught signals (as exec would give them).
[[noreturn]] void RunTracedChild(const TraceJob& job) {
  // The tracer's ends of the handshake: with a copy here, the wait for the tracer's word would
  // never see EOF if the tracer died first (kill -9 of filemon), and this process, orphaned,
  // would wait forever.
  close(job.ready_read);
  close(job.go_write);
  for (int signal = 1; signal < NSIG; ++signal) {
    struct sigaction old;
    if (sigaction(signal, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
      struct sigaction dfl;
      memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
      sigaction(signal, &dfl, nullptr);
    }
  }
  int error = 0;
  StartStep step = StartStep::kChdir;
  if (job.cwd != nullptr && chdir(job.cwd) != 0) {
    error = errno;
  } else if ((error = RedirectCommandOutput(*job.command)) != 0) {
    step = StartStep::kRedirect;
  } else {
    step = StartStep::kTrace;
    error = PrepareTracedChild(*job.setup);
    if (error == 0) {
      step = StartStep::kExec;
      pthread_sigmask(SIG_SETMASK, &job.caller_mask, nullptr);
      execve(job.program, job.argv, job.env);
      error = errno;
    }
  }
  WriteStartReport(job.failed_write, step, error);
  _exit(127);
}

// Whether this process discards SIGCHLD (no handler: the default action or SIG_IGN).
bool SigchldDiscarded() {
  struct sigaction action;
  if (sigaction(SIGCHLD, nullptr, &action) != 0) return false;
  return (action.sa_flags & SA_SIGINFO) == 0 &&
         (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN);
}

// The tracing thread: forks the command (its only child, so that waiting with __WNOTHREAD sees
// nothing of the caller's), seizes it and follows its tree. Blocks every signal: the caller's
// handlers run on the caller's threads, never here. But SIGCHLD while the process discards it:
// every stop of a tracee sends one to its tracer, this thread; blocked here, it would be queued
// and wake one of the caller's threads only to be discarded there (a switch per stop), while
// the kernel drops one that this thread does not block without queueing it.
void* TraceThread(void* arg) {
  TraceJob& job = *static_cast<TraceJob*>(arg);
  sigset_t all;
  sigfillset(&all);
  if (SigchldDiscarded()) sigdelset(&all, SIGCHLD);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  pid_t pid = fork();
  if (pid == 0) RunTracedChild(job);
  // The child holds its own copies; without ours, the handshake sees EOF if it dies early.
  close(job.setup->ready_fd);
  close(job.setup->go_fd);
  close(job.failed_write);
  if (pid < 0) {
    job.result = absl::ErrnoToStatus(errno, "fork");
    return nullptr;
  }
  ProcessTree tree(*job.options, job.sink);
  absl::Status seized = SeizeChild(&tree, pid, job.ready_read, job.go_write);
  close(job.ready_read);
  close(job.go_write);
  job.ready_read = job.go_write = -1;
  if (!seized.ok()) {
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, __WNOTHREAD) < 0 && errno == EINTR) {
    }
    job.result = seized;
  } else {
    job.result = tree.Run();
  }
  return nullptr;
}

absl::StatusOr<ExitStatus> PtraceBackend::Run(const Command& command, const TraceOptions& options,
                                              RecordSink* sink) {
  ScopedRun run_ended(options.control);
  if (command.argv.empty()) return absl::InvalidArgumentError("empty command");
  absl::StatusOr<std::string> program = FindProgram(command);
  if (!program.ok()) return program.status();
  std::vector<char*> argv = CArray(command.argv);
  std::vector<char*> envp = command.env.has_value() ? CArray(*command.env) : std::vector<char*>();

  ChildSetup setup;
  absl::Status built = BuildSeccompFilter(&setup, FilterOptions{options.probes});
  if (!built.ok()) return built;
  int ready[2] = {-1, -1}, go[2] = {-1, -1}, failed[2] = {-1, -1};
  absl::Status p = MakePipe(ready, "ready");
  if (p.ok()) p = MakePipe(go, "go");
  if (p.ok()) p = MakePipe(failed, "exec error");
  if (!p.ok()) return CloseAll({ready, go, failed}, p);
  setup.ready_fd = ready[1];
  setup.go_fd = go[0];
  setup.tracer_pid = getpid();

  TraceJob job{&command,
               &options,
               sink,
               program->c_str(),
               argv.data(),
               command.env.has_value() ? envp.data() : environ,
               command.cwd.empty() ? nullptr : command.cwd.c_str(),
               &setup,
               ready[0],
               go[1],
               failed[1],
               {},
               ExitStatus{}};
  pthread_sigmask(SIG_SETMASK, nullptr, &job.caller_mask);
  pthread_t thread;
  int created = pthread_create(&thread, nullptr, TraceThread, &job);
  if (created != 0) {
    return CloseAll({ready, go, failed}, absl::ErrnoToStatus(created, "pthread_create(tracer)"));
  }
  pthread_join(thread, nullptr);
  CloseFd(&job.ready_read);
  CloseFd(&job.go_write);

  // The tree is gone: the child either exec'd or wrote its whole report before exiting.
  absl::Status started = ReadStartReport(
      failed[0], command, *program,
      "ptrace backend: cannot prepare the command for tracing (the handshake with its tracer, "
      "its seccomp filter)");
  close(failed[0]);
  if (!started.ok()) return started;
  return job.result;
}

}  // namespace

absl::Status PtraceBackendAvailable() {
  if (ptrace_internal::HostAbis().empty()) {
    return absl::UnimplementedError("ptrace backend: no syscall table for this CPU");
  }
  struct utsname u;
  if (uname(&u) == 0) {
    int major = 0, minor = 0;
    if (sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
        (major < 5 || (major == 5 && minor < 3))) {
      return absl::UnavailableError(
          absl::StrCat("ptrace backend: Linux ", u.release,
                       " lacks PTRACE_GET_SYSCALL_INFO (5.3 or later is needed)"));
    }
  }
  // Yama's ptrace_scope 3 forbids ptrace to everyone, root included.
  if (FILE* f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re")) {
    int scope = 0;
    bool read = fscanf(f, "%d", &scope) == 1;
    fclose(f);
    if (read && scope >= 3) {
      return absl::UnavailableError(
          "ptrace backend: ptrace is disabled on this system "
          "(/proc/sys/kernel/yama/ptrace_scope is 3)");
    }
  }
  if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
    return absl::UnavailableError("ptrace backend: this kernel has no seccomp support");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Backend>> MakePtraceBackend(PtraceBackendOptions /*options*/) {
  absl::Status available = PtraceBackendAvailable();
  if (!available.ok()) return available;
  return std::unique_ptr<Backend>(std::make_unique<PtraceBackend>());
}

}  // namespace filemon
