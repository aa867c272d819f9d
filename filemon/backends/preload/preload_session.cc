#include "filemon/backends/preload/preload_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/preload/launch_environment.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/pump.h"
#include "filemon/backends/preload/pump_wait.h"
#include "filemon/backends/preload/record_dispatcher.h"
#include "filemon/backends/preload/session_environment.h"
#include "filemon/backends/preload/session_exec_handoff.h"
#include "filemon/backends/preload/supervisor_channel.h"
#include "filemon/backends/session_log.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace filemon {
namespace preload_internal {
namespace {

using absl::StrCat;

double NowMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

// How a session's pump waits: the tick of a run (pump_wait.h), and the end of the traced tree
// seen on the channel itself: the pipe's and the socketpair's hangups (every process of the
// tree holds both until it exits). Also watches the command (the caller's child) through its
// pidfd, to read the status of a death by signal before the caller reaps it.
class SessionWait : public WaitStrategy {
 public:
  SessionWait(const SupervisorChannel& channel, int root_pidfd, Writer* writer)
      : pipe_(channel.pipe()),
        socket_(channel.connection(0)),
        control_(channel.control()),
        root_pidfd_(root_pidfd),
        pipe_capacity_(channel.pipe_capacity()),
        writer_(writer),
        last_drain_ms_(NowMs()) {}

  absl::StatusOr<Wakeup> Wait(std::vector<pollfd>* fds) override;
  void Drained(size_t messages, size_t pipe_bytes) override;

  // The signal that killed the command (0: it exited, or its status could not be read).
  int root_signal() const { return root_signal_; }
  bool root_status_lost() const { return root_status_lost_; }

 private:
  void PeekRoot();

  const int pipe_, socket_, control_, root_pidfd_;
  const size_t pipe_capacity_;
  Writer* const writer_;
  bool pipe_gone_ = false, socket_gone_ = false, root_exited_ = false;
  bool root_status_lost_ = false;
  int root_signal_ = 0;
  int tick_ms_ = 1;
  double last_drain_ms_;
};

absl::StatusOr<WaitStrategy::Wakeup> SessionWait::Wait(std::vector<pollfd>* fds) {
  const size_t own = fds->size();
  for (pollfd& p : *fds) {
    // No reaper holds the control socket's other end: it only hangs up. A hung-up socket is
    // read once (the drain that saw it), then left out, or poll would return at once.
    if (p.fd == control_ || (socket_gone_ && p.fd == socket_)) p.fd = -1;
  }
  if (pipe_ >= 0 && !pipe_gone_) fds->push_back({pipe_, 0, 0});  // POLLHUP only: no wakeup
  const size_t root = fds->size();
  if (root_pidfd_ >= 0 && !root_exited_) fds->push_back({root_pidfd_, POLLIN, 0});
  int n;
  do {
    n = poll(fds->data(), fds->size(), tick_ms_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "preload session: poll");
  Wakeup wakeup;
  bool sockets = false;
  for (size_t i = 1; n > 0 && i < own; ++i) {
    const pollfd& p = (*fds)[i];
    if (p.revents == 0) continue;
    sockets = true;
    if (p.fd == socket_ && (p.revents & (POLLHUP | POLLERR)) != 0) socket_gone_ = true;
  }
  if (pipe_ >= 0 && !pipe_gone_ && n > 0 && (*fds)[own].revents != 0) pipe_gone_ = true;
  if (root < fds->size() && n > 0 && (*fds)[root].revents != 0) PeekRoot();
  // The command closes its descriptors before it becomes a zombie: its status comes after.
  wakeup.watched_exited =
      socket_gone_ && (pipe_ < 0 || pipe_gone_) && (root_pidfd_ < 0 || root_exited_);
  wakeup.drain = sockets || wakeup.watched_exited ? Drain::kAll : Drain::kPipe;
  return wakeup;
}

// The command has exited: its status, without reaping it (the caller does).
void SessionWait::PeekRoot() {
  root_exited_ = true;
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(root_pidfd_), &info,
             WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0) {
    root_status_lost_ = true;  // reaped first
    return;
  }
  if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) root_signal_ = info.si_status;
}

void SessionWait::Drained(size_t /*messages*/, size_t pipe_bytes) {
  // What the drain found goes to the log now: the caller may read it before the end.
  if (pipe_bytes > 0) writer_->Flush().IgnoreError();
  const double now = NowMs();
  tick_ms_ = NextTickMs(pipe_bytes, pipe_capacity_, now - last_drain_ms_, TickWait::kMaxTickMs);
  last_drain_ms_ = now;
}

// No reaper: no control message is expected (one from a traced process is forged and counted
// by the pump); the wake descriptor stops the session early (its destruction).
class SessionControl : public ControlHandler {
 public:
  void OnControl(MessageType, const WireRecord&) override {}
  void OnWake() override { stopped_ = true; }
  bool finished() const override { return stopped_; }

 private:
  bool stopped_ = false;
};

class PreloadSession : public TraceSession {
 public:
  PreloadSession(std::string helper, SupervisorChannel channel, OwnedFd locale_shm,
                 std::unique_ptr<SessionEnvironment> env, OwnedFd log, OwnedFd done_read,
                 OwnedFd done_write, OwnedFd stop)
      : helper_(std::move(helper)),
        channel_(std::move(channel)),
        locale_shm_(std::move(locale_shm)),
        env_(std::move(env)),
        log_(std::move(log)),
        done_read_(std::move(done_read)),
        done_write_(std::move(done_write)),
        stop_(std::move(stop)),
        reader_(log_.get()) {}
  ~PreloadSession() override;

  int PrepareChild() const override;
  absl::Status SetChild(int pid) override;
  int ReadFd() const override { return done_read_.get(); }
  absl::StatusOr<bool> Process(RecordSink* sink) override;
  absl::Status Finish(RecordSink* sink) override;

 private:
  // The supervisor thread's body.
  void Supervise();
  // Reads the done pipe: true once the supervisor closed it. `block`: wait for it.
  bool Done(bool block);

  const std::string helper_;  // auto's ptrace helper; empty: none
  SupervisorChannel channel_;
  OwnedFd locale_shm_;  // held for as long as the session lasts
  std::unique_ptr<SessionEnvironment> env_;
  OwnedFd log_;                     // memfd: the supervisor writes, the caller reads
  OwnedFd done_read_, done_write_;  // EOF on done_read_ once the supervisor is done
  OwnedFd stop_;                    // eventfd: the pump's wake descriptor
  OwnedFd root_pidfd_;
  pid_t child_ = -1;
  std::thread thread_;
  bool child_set_ = false;
  bool done_ = false;
  SessionLogReader reader_;
};

PreloadSession::~PreloadSession() {
  if (thread_.joinable()) {
    if (!done_) {
      // Before Finish(): the command is killed (through its pidfd: never another process
      // that reuses its pid), the rest of the tree ends at its next record (SIGPIPE) once
      // the supervisor has stopped and closed the channel.
      if (root_pidfd_.valid()) syscall(SYS_pidfd_send_signal, root_pidfd_.get(), SIGKILL, 0, 0);
      const uint64_t one = 1;
      if (write(stop_.get(), &one, sizeof(one)) < 0) {
      }
    }
    thread_.join();
  }
  if (!child_set_) env_->Restore();
}

int PreloadSession::PrepareChild() const {
  const int error = env_->Enter();
  if (error != 0) return error;
  for (int fd : {channel_.child_socket(), channel_.child_pipe()}) {
    if (fd >= 0 && fcntl(fd, F_SETFD, 0) != 0) return errno;
  }
  // auto: the caller's own exec of a program the interposer cannot enter goes to the helper.
  // Without Syscall User Dispatch such a program is not traced (the log says so).
  if (!helper_.empty()) ArmExecHandoff(helper_.c_str());
  return 0;
}

absl::Status PreloadSession::SetChild(int pid) {
  if (child_set_) return absl::FailedPreconditionError("preload session: SetChild twice");
  child_set_ = true;
  env_->Restore();
  channel_.CloseChildEnds();
  if (pid <= 0) {
    done_write_.reset();  // no child: nothing to trace
    return absl::OkStatus();
  }
  child_ = pid;
  root_pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  // The thread blocks every signal (the caller's handlers run in its own threads).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread(&PreloadSession::Supervise, this);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return absl::OkStatus();
}

void PreloadSession::Supervise() {
  Writer writer(log_.get(), {});
  RecordDispatcher dispatcher(&writer);
  SessionControl control;
  Pump pump(&channel_, &dispatcher, &control);
  pump.AddTreeRoot(child_);
  SessionWait wait(channel_, root_pidfd_.get(), &writer);
  const absl::Status pumped = pump.Run(&wait, stop_.get());
  pump.Finish();
  if (wait.root_signal() != 0) {
    WireRecord exit{};
    exit.kind = WireKind::kExit;
    exit.pid = child_;
    exit.signal = wait.root_signal();
    dispatcher.HandleExit(exit);  // unless it wrote its own
  }
  if (!dispatcher.InTree(child_)) {
    writer.Add(Record::Comment(
        StrCat(" preload: pid ", child_,
               " sent no record: a program the interposer cannot enter (statically linked, 32-bit, "
               "Go, set-ID), exec'd by the caller itself, is not traced")));
  }
  if (channel_.refused() > 0) {
    writer.Add(Record::Comment(StrCat(
        " preload: refused ", channel_.refused(), " connections from outside the traced tree (pid ",
        channel_.first_refused().pid, " uid ", channel_.first_refused().uid, ")")));
  }
  if (pump.forged() > 0) {
    writer.Add(Record::Comment(
        StrCat(" preload: ignored ", pump.forged(), " control messages sent by traced processes")));
  }
  const absl::Status status = pumped.ok() ? pump.status() : pumped;
  if (!status.ok()) {
    writer.Add(Record::Comment(StrCat(" preload: supervisor error: ", status.ToString())));
  }
  writer.Close().IgnoreError();
  done_write_.reset();
}

bool PreloadSession::Done(bool block) {
  while (!done_) {
    if (!block) {
      pollfd p{done_read_.get(), POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) return false;
    }
    char c;
    const ssize_t n = read(done_read_.get(), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) done_ = true;
  }
  if (thread_.joinable()) thread_.join();
  return true;
}

absl::StatusOr<bool> PreloadSession::Process(RecordSink* sink) {
  const bool done = Done(/*block=*/false);
  absl::Status s = reader_.Deliver(sink, done);
  if (!s.ok()) return s;
  return done;
}

absl::Status PreloadSession::Finish(RecordSink* sink) {
  if (!child_set_) {
    absl::Status s = SetChild(-1);
    if (!s.ok()) return s;
  }
  Done(/*block=*/true);
  return reader_.Deliver(sink, /*final=*/true);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TraceSession>> StartPreloadSession(const SessionSettings& settings) {
  absl::StatusOr<SupervisorChannel> channel = SupervisorChannel::Open();
  if (!channel.ok()) return channel.status();
  LaunchSettings launch;
  launch.library = settings.library;
  launch.socket_fd = channel->child_socket();
  launch.pipe_fd = channel->child_pipe();
  launch.socket_name = channel->socket_name();
  OwnedFd locale_shm = CreateLocaleShm(&launch.locale_shm_path);
  if (settings.absolute_paths) launch.options |= kOptionAbsolutePaths;
  if (settings.auto_mode) launch.options |= kOptionAuto;
  if (settings.probes) launch.options |= kOptionProbes;
  launch.helper = settings.helper;
  // The launch protocol's variables, as a run's command gets them; LD_PRELOAD and the pid are
  // made by the environment at the fork, from the caller's environment then.
  SessionEnvironment::Options env_options;
  env_options.library = settings.library;
  for (std::string& entry : BuildLaunchEnvironment({}, launch)) {
    if (absl::StartsWith(entry, kEnvPrefix) && !absl::StartsWith(entry, StrCat(kEnvPid, "="))) {
      env_options.variables.push_back(std::move(entry));
    }
  }
  absl::StatusOr<std::unique_ptr<SessionEnvironment>> env =
      SessionEnvironment::Create(std::move(env_options));
  if (!env.ok()) return env.status();
  OwnedFd log(static_cast<int>(syscall(SYS_memfd_create, "filemon-session", MFD_CLOEXEC)));
  if (!log.valid()) return absl::ErrnoToStatus(errno, "memfd_create(filemon-session)");
  int done[2];
  if (pipe2(done, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2(session done)");
  OwnedFd done_read(done[0]), done_write(done[1]);
  OwnedFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return absl::ErrnoToStatus(errno, "eventfd(session stop)");
  return std::unique_ptr<TraceSession>(
      new PreloadSession(settings.auto_mode ? settings.helper : std::string(), *std::move(channel),
                         std::move(locale_shm), *std::move(env), std::move(log),
                         std::move(done_read), std::move(done_write), std::move(stop)));
}

}  // namespace preload_internal
}  // namespace filemon
