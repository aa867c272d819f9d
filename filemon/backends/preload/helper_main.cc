// filemon_preload_helper: the `auto` backend's hand-off to ptrace for one program.
//
// When a traced process exec's a program that the interposer cannot enter (statically
// linked, another ELF class), the interposer in `auto` mode exec's this helper instead, in
// the same process (same pid P), with the supervisor's socket inherited:
//
//   filemon_preload_helper PROGRAM -- ARGV0 ARGS...
//
// The helper runs PROGRAM under the ptrace backend and forwards every record to the
// supervisor, writing the program's own process as P (the pid its parent knows), so that the
// log reads as if P had exec'd PROGRAM under ptrace. It exits as PROGRAM did (the same code, or
// the same signal), so the parent sees what it would have seen untraced. Not a user tool.

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/backends/ptrace/ptrace_backend.h"
#include "filemon/core/backend.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/run_control.h"
#include "filemon/core/signal_passing.h"

extern "C" char** environ;

namespace filemon {
namespace {

using preload_internal::ByteAppender;
using preload_internal::DecodeSpawnActions;
using preload_internal::kMaxMessage;
using preload_internal::MessageHeader;
using preload_internal::MessageType;
using preload_internal::SendMessage;
using preload_internal::WireKind;
using preload_internal::WireRecord;

// Sends each record to the supervisor, with the traced program's pid replaced by ours.
class ForwardingSink : public RecordSink {
 public:
  // `pipe`: the supervisor's pipe (or -1), for messages up to kMaxPipeMessage; `fd` its socket.
  ForwardingSink(int fd, int pipe, int64_t self) : fd_(fd), pipe_(pipe), self_(self) {}

  void Add(const Record& record) override {
    if (root_ == 0 && record.kind == RecordKind::kExec) root_ = record.pid;
    Send(record, 0);
  }

  // The start of a helper that posix_spawn created (launch_protocol.h): `F parent self token`,
  // then the spawn's file actions under our pid, before the program's records.
  void AddSpawnStart(int parent, uint32_t token, const char* actions) {
    Send(Record::Fork(parent, self_), token);
    if (actions == nullptr) return;
    DecodeSpawnActions(actions, [&](char kind, const char* path, size_t size) {
      const RecordKind k = kind == 'R'   ? RecordKind::kRead
                           : kind == 'W' ? RecordKind::kWrite
                           : kind == 'N' ? RecordKind::kNotFound
                                         : RecordKind::kChdir;
      Send(Record::Path(k, self_, absl::string_view(path, size)), 0);
    });
  }

 private:
  // Sends one record; an F carries `token` (0 for ptrace's F records: ptrace writes F in the
  // parent's fork, the only F of that creation).
  void Send(const Record& record, uint32_t token) {
    WireRecord w{};
    switch (record.kind) {
      case RecordKind::kComment:
        w.kind = WireKind::kComment;
        break;
      case RecordKind::kAt:
      case RecordKind::kChdir:
      case RecordKind::kDelete:
      case RecordKind::kExec:
      case RecordKind::kFork:
      case RecordKind::kLink:
      case RecordKind::kMove:
      case RecordKind::kNotFound:
      case RecordKind::kRead:
      case RecordKind::kWrite:
      case RecordKind::kExit:
        w.kind = static_cast<WireKind>(RecordLetter(record.kind));
        break;
      default:
        return;  // header/footer kinds: the supervisor's caller writes those
    }
    w.pid = static_cast<int32_t>(Map(record.pid));
    w.child_pid = static_cast<int32_t>(record.child_pid);
    w.status = record.kind == RecordKind::kFork ? static_cast<int32_t>(token)
                                                : static_cast<int32_t>(record.status);
    w.signal = static_cast<int32_t>(record.signal);
    w.len1 = static_cast<uint16_t>(record.path.size());
    w.len2 = static_cast<uint16_t>(record.path2.size());
    char buf[kMaxMessage];
    ByteAppender out(buf, sizeof(buf));
    MessageHeader header{};
    header.type = MessageType::kRecords;
    header.sender = static_cast<int32_t>(self_);
    out.Append(&header, sizeof(header));
    out.Append(&w, sizeof(w));
    out.Append(record.path.data(), record.path.size());
    out.Append(record.path2.data(), record.path2.size());
    if (out.overflow()) return;
    // In order with the interposer's messages (wire_format.h).
    SendMessage(out.data(), out.size(), &pipe_, fd_, &deferred_);
  }

  int64_t Map(int64_t pid) const { return pid == root_ && root_ != 0 ? self_ : pid; }

  int fd_;
  int pipe_;
  int64_t self_;
  int64_t root_ = 0;
  uint32_t deferred_ = 0;  // messages sent deferred (wire_format.h)
};

struct SupervisorChannels {
  int socket, pipe;
};

// Waits until the supervisor is gone, then kills this process (see DieWithTheSupervisor).
void* WatchSupervisor(void* arg) {
  const SupervisorChannels* channels = static_cast<const SupervisorChannels*>(arg);
  // events 0: only POLLHUP (the socket's peer closed) and POLLERR (the pipe lost its reader)
  // end this poll.
  struct pollfd fds[2] = {{channels->socket, 0, 0}, {channels->pipe, 0, 0}};
  while (poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
  kill(getpid(), SIGKILL);
  return nullptr;
}

// The supervisor's ends of `socket` and `pipe` (its read end) close when the tracer dies
// (kill -9 of filemon). The helper then dies at once, as a killed tracer does, and its tracees
// with it (PTRACE_O_EXITKILL), exactly as under the ptrace backend. Without this watch the
// program would run on with its records lost (the tracing thread blocks SIGPIPE, and the
// socket sends with MSG_NOSIGNAL).
void DieWithTheSupervisor(int socket, int pipe) {
  static SupervisorChannels channels;
  channels = {socket, pipe};
  if (socket < 0 && pipe < 0) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // signals go to the threads that pass them on
  pthread_t thread;
  if (pthread_create(&thread, nullptr, WatchSupervisor, &channels) == 0) pthread_detach(thread);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// The supervisor's socket and pipe, as inherited: each -1 if absent or not what it should be
// (a program may have reused the number). Neither passes to the program's subtree, which ptrace
// alone traces.
SupervisorChannels AdoptSupervisorChannels() {
  const char* fd_text = getenv(preload_internal::kEnvFd);
  const char* pipe_text = getenv(preload_internal::kEnvPipe);
  SupervisorChannels channels{fd_text != nullptr ? atoi(fd_text) : -1,
                              pipe_text != nullptr ? atoi(pipe_text) : -1};
  if (channels.socket >= 0) fcntl(channels.socket, F_SETFD, FD_CLOEXEC);
  struct stat pipe_stat;
  if (channels.pipe >= 0 &&
      (fstat(channels.pipe, &pipe_stat) != 0 || !S_ISFIFO(pipe_stat.st_mode))) {
    channels.pipe = -1;
  }
  if (channels.pipe >= 0) fcntl(channels.pipe, F_SETFD, FD_CLOEXEC);
  struct stat fd_stat;
  if (channels.socket >= 0 &&
      (fstat(channels.socket, &fd_stat) != 0 || !S_ISSOCK(fd_stat.st_mode))) {
    channels.socket = -1;
  }
  return channels;
}

// The program to trace: `argv` is `helper PROGRAM -- ARGV0 ARGS...`. Its environment is ours
// without the interposer's variables and LD_PRELOAD.
Command CommandFromArguments(int argc, char** argv) {
  Command command;
  command.argv.push_back(argv[1]);  // the resolved program (argv[0] is not kept: see README)
  for (int i = 4; i < argc; ++i) command.argv.push_back(argv[i]);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    if (absl::StartsWith(entry, preload_internal::kEnvPrefix) ||
        entry.substr(0, 11) == "LD_PRELOAD=") {
      continue;
    }
    env.emplace_back(entry.data(), entry.size());
  }
  command.env = std::move(env);
  return command;
}

// The trace options the supervisor passed (launch_protocol.h).
TraceOptions OptionsFromEnvironment() {
  TraceOptions options;
  const unsigned launch_options =
      preload_internal::ParseLaunchOptions(getenv(preload_internal::kEnvOptions));
  options.absolute_paths = (launch_options & preload_internal::kOptionAbsolutePaths) != 0;
  options.probes = (launch_options & preload_internal::kOptionProbes) != 0;
  return options;
}

// Created inside glibc by a traced posix_spawn: this process's F and the spawn's file actions
// come first (launch_protocol.h).
void AddSpawnStartIfSpawned(ForwardingSink* sink) {
  const char* parent_text = getenv(preload_internal::kEnvPid);
  const char* token_text = getenv(preload_internal::kEnvToken);
  if (parent_text != nullptr && token_text != nullptr && atoi(parent_text) != getpid()) {
    sink->AddSpawnStart(atoi(parent_text), static_cast<uint32_t>(strtoul(token_text, nullptr, 10)),
                        getenv(preload_internal::kEnvActions));
  }
}

// When ptrace cannot trace here, the program still runs (in this process, untraced), and the
// log says what is missing and `why`. Returns only if the exec failed: 127.
int RunUntraced(ForwardingSink* sink, char** argv, const std::string& why) {
  sink->Add(Record::Comment(std::string(" auto: ") + argv[1] + " cannot be preloaded and " + why +
                            ": its own operations are not recorded"));
  std::string path = argv[1];
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) path = std::string(cwd) + "/" + path;
  }
  sink->Add(Record::Path(RecordKind::kExec, getpid(), path));
  execv(argv[1], argv + 3);
  std::fprintf(stderr, "filemon_preload_helper: execv(%s): %s\n", argv[1], strerror(errno));
  return 127;
}

// Ends as the program did: the same signal, or its exit code returned.
int ExitAs(const ExitStatus& exit) {
  if (exit.signal != 0) {
    signal(exit.signal, SIG_DFL);
    raise(exit.signal);
  }
  return exit.code;
}

int Main(int argc, char** argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    std::fprintf(stderr, "usage: filemon_preload_helper PROGRAM -- ARGV0 ARGS...\n");
    return 125;
  }
  const Command command = CommandFromArguments(argc, argv);
  TraceOptions options = OptionsFromEnvironment();
  const SupervisorChannels channels = AdoptSupervisorChannels();
  ForwardingSink sink(channels.socket, channels.pipe, getpid());
  AddSpawnStartIfSpawned(&sink);
  absl::StatusOr<std::unique_ptr<Backend>> made = MakePtraceBackend();
  if (!made.ok()) {
    return RunUntraced(&sink, argv, "ptrace is unavailable (" + made.status().ToString() + ")");
  }
  std::unique_ptr<Backend> backend = *std::move(made);
  DieWithTheSupervisor(channels.socket, channels.pipe);
  sink.Add(Record::Comment(std::string(" auto: ") + argv[1] +
                           " cannot be preloaded: traced with ptrace from here"));
  // Signals sent to this process (the pid its parent knows) reach the program, as they did
  // before the hand-off.
  RunControl control;
  options.control = &control;
  // Orphans of the program stay this process's children, as they are its tracees: reaped here,
  // where their X is written, never also by the supervisor's reaper (which would write a second
  // X, in either order).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  absl::StatusOr<ExitStatus> exit;
  {
    ScopedSignalPassing passing(&control);
    exit = backend->Run(command, options, &sink);
  }
  if (!exit.ok()) {
    return RunUntraced(&sink, argv, "ptrace could not start it (" + exit.status().ToString() + ")");
  }
  return ExitAs(*exit);
}

}  // namespace
}  // namespace filemon

int main(int argc, char** argv) { return filemon::Main(argc, argv); }
