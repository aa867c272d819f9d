#include "filemon/backends/preload/preload_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/preload/exec_probe.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/find_program.h"
#include "filemon/core/run_control_internal.h"

extern "C" char** environ;

namespace filemon {
namespace {

using absl::StrCat;

using preload_internal::DecodeRecords;
using preload_internal::ExecKind;
using preload_internal::ExecKindLoss;
using preload_internal::ExecKindReason;
using preload_internal::ExecProbe;
using preload_internal::kDeferredPrefix;
using preload_internal::kMaxMessage;
using preload_internal::MessageHeader;
using preload_internal::MessageType;
using preload_internal::ProbeExecutable;
using preload_internal::SendMessage;
using preload_internal::WireKind;
using preload_internal::WireRecord;

// FILEMON_PRELOAD_PID (launch_protocol.h), filled in by the reaper's child with its own pid.
constexpr char kPidPlaceholder[] = "FILEMON_PRELOAD_PID=0000000000";
static_assert(sizeof(kPidPlaceholder) == sizeof(preload_internal::kEnvPid) + 11,
              "kPidPlaceholder is kEnvPid, '=' and ten digits");

bool RecordKindFromWire(WireKind wire, RecordKind* kind) {
  switch (wire) {
    case WireKind::kComment:
      *kind = RecordKind::kComment;
      return true;
    default:
      return RecordKindFromLetter(static_cast<char>(wire), kind);
  }
}

// The signals a terminal or a supervisor sends to a whole process group. The reaper ignores
// them (see RunReaper); the caller passes them on through `TraceOptions::control`.
constexpr int kGroupSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Every process descended from `root` (the traced tree under the reaper), from /proc.
std::vector<pid_t> Descendants(pid_t root) {
  absl::flat_hash_map<pid_t, std::vector<pid_t>> children;
  if (DIR* proc = opendir("/proc")) {
    while (struct dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      char path[64], stat[512];
      snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
      const int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const ssize_t n = read(fd, stat, sizeof(stat) - 1);
      close(fd);
      if (n <= 0) continue;
      stat[n] = '\0';
      const char* paren = strrchr(stat, ')');  // "pid (comm) state ppid ..."
      long ppid = 0;
      if (paren != nullptr && sscanf(paren + 1, " %*c %ld", &ppid) == 1) {
        children[static_cast<pid_t>(ppid)].push_back(static_cast<pid_t>(pid));
      }
    }
    closedir(proc);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> pending = {root};
  while (!pending.empty()) {
    const pid_t parent = pending.back();
    pending.pop_back();
    auto it = children.find(parent);
    if (it == children.end()) continue;
    for (pid_t child : it->second) {
      out.push_back(child);
      pending.push_back(child);
    }
  }
  return out;
}

// Passes the control's queued signals to every process under the reaper; returns the first one
// (0 if none).
int PassTreeSignals(RunControl* control, pid_t reaper) {
  const TreeSignals signals = RunControlInternal::TakeTreeSignals(control);
  if ((signals.all != 0 || signals.group != 0) && reaper > 0) {
    for (pid_t pid : Descendants(reaper)) signals.SendTo(pid);
  }
  return RunControlInternal::FirstSignal(signals.all);
}

// The wait before the next drain of the pipe, from the last drain: `bytes` read after
// `elapsed_ms`. Aims at an eighth of `capacity` per tick at the rate just seen; 0 (drain again
// at once) when a drain found the pipe a quarter full; `max_ms` when nothing came.
int NextTickMs(size_t bytes, size_t capacity, double elapsed_ms, int max_ms) {
  if (bytes >= capacity / 4) return 0;
  if (bytes == 0) return max_ms;
  const double ms = elapsed_ms * static_cast<double>(capacity / 8) / static_cast<double>(bytes);
  return ms >= max_ms ? max_ms : ms < 1 ? 1 : static_cast<int>(ms);
}

// Sends one message from the reaper or the command's child through the control socket, which
// only they hold (async-signal-safe).
void SendFromChild(int control, MessageType type, int pid, int status, int signal) {
  struct {
    MessageHeader header;
    WireRecord record;
  } message;
  std::memset(&message, 0, sizeof(message));
  message.header.type = type;
  message.header.sender = static_cast<int32_t>(getpid());
  message.record.kind = WireKind::kExit;
  message.record.pid = pid;
  message.record.status = status;
  message.record.signal = signal;
  message.header.size = sizeof(message);
  while (send(control, &message, sizeof(message), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// The reaper: a child subreaper that starts the command and reaps what its parents leave.
// Runs between fork and _exit in a copy of a possibly multi-threaded process: only
// async-signal-safe calls, no allocation. `fd` and `pipe_fd` are the traced tree's channels,
// `control` (close-on-exec: the command does not inherit it) the reaper's own.
[[noreturn]] void RunReaper(int fd, int pipe_fd, int control, const char* program,
                            char* const* argv, char** envp, char* pid_digits, const char* cwd) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (pipe_fd >= 0) fcntl(pipe_fd, F_SETFD, 0);  // inherited by the command
  // The reaper survives a signal sent to the whole group (a terminal's ^C, kill -INT -PGID):
  // it must keep reaping, and the command decides what the signal means. The command gets the
  // default action back, or keeps the caller's SIG_IGN.
  struct sigaction ignore, default_action, old;
  std::memset(&ignore, 0, sizeof(ignore));
  ignore.sa_handler = SIG_IGN;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  bool restore[sizeof(kGroupSignals) / sizeof(kGroupSignals[0])] = {};
  // Also blocked, so that one sent to the command before it has its default action back stays
  // pending (a blocked signal is kept even while ignored) instead of being discarded.
  sigset_t group;
  sigemptyset(&group);
  for (size_t i = 0; i < sizeof(kGroupSignals) / sizeof(kGroupSignals[0]); ++i) {
    restore[i] = sigaction(kGroupSignals[i], &ignore, &old) == 0 && old.sa_handler != SIG_IGN;
    sigaddset(&group, kGroupSignals[i]);
  }
  sigprocmask(SIG_BLOCK, &group, nullptr);
  fcntl(fd, F_SETFD, 0);  // inherited by the command
  sigset_t none;
  sigemptyset(&none);
  pid_t root = fork();
  if (root == 0) {
    for (size_t i = 0; i < sizeof(kGroupSignals) / sizeof(kGroupSignals[0]); ++i) {
      if (restore[i]) sigaction(kGroupSignals[i], &default_action, nullptr);
    }
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // FILEMON_PRELOAD_PID: this pid execs, so the interposer writes no F for it.
    pid_t self = getpid();
    for (int i = 9; i >= 0; --i, self /= 10) pid_digits[i] = static_cast<char>('0' + self % 10);
    if (cwd[0] != '\0' && chdir(cwd) != 0) {
      SendFromChild(control, MessageType::kRootExecError, getpid(), errno, 1);
      _exit(127);
    }
    execve(program, argv, envp);
    SendFromChild(control, MessageType::kRootExecError, getpid(), errno, 0);
    _exit(127);
  }
  if (root < 0) {
    SendFromChild(control, MessageType::kRootExecError, getpid(), errno, 2);
    _exit(127);
  }
  SendFromChild(control, MessageType::kRootStarted, root, 0, 0);
  while (true) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing traced is left
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) continue;
    SendFromChild(control, MessageType::kReaped, pid, code, signal);
    if (pid == root) SendFromChild(control, MessageType::kRootExit, pid, code, signal);
  }
  SendFromChild(control, MessageType::kDone, 0, 0, 0);
  _exit(0);
}

// Binds and listens on a fresh abstract name "filemon-preload-PID-RANDOM" (set in `*name`)
// for processes that lost their descriptor. The name is visible to every user
// (/proc/net/unix): a random part makes it impossible to bind in advance, and a name taken
// anyway is replaced by another. Returns the listener, or -1 (then `*name` must not be passed).
int ListenOnFreshName(std::string* name) {
  const int listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener < 0) return -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t random = 0;
    if (getrandom(&random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) break;
    *name = absl::StrCat("filemon-preload-", getpid(), "-", absl::Hex(random, absl::kZeroPad16));
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name->data(), name->size());
    const socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + name->size();
    if (bind(listener, reinterpret_cast<struct sockaddr*>(&addr), len) == 0) {
      if (listen(listener, 128) == 0) return listener;
      break;
    }
    if (errno != EADDRINUSE) break;
  }
  close(listener);
  name->clear();
  return -1;
}

// True if `pid` is `root` or one of its descendants (the parents in /proc/PID/stat; an orphan
// of the traced tree has been reparented to the reaper, a child subreaper).
bool DescendsFrom(pid_t pid, pid_t root) {
  for (int depth = 0; depth < 4096 && pid > 0; ++depth) {
    if (pid == root) return true;
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char stat[512];
    const ssize_t n = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (n <= 0) return false;
    stat[n] = '\0';
    const char* end_of_name = std::strrchr(stat, ')');  // the name may hold ')' and spaces
    int parent = 0;
    if (end_of_name == nullptr || std::sscanf(end_of_name + 1, " %*c %d", &parent) != 1) {
      return false;
    }
    pid = parent;
  }
  return false;
}

// Turns one run's wire records into sink records: the first of a creation's two F records
// (wire_format.h, "F from both sides"), one X per process.
class RecordDispatcher {
 public:
  explicit RecordDispatcher(RecordSink* sink) : sink_(sink) {}
  RecordDispatcher(const RecordDispatcher&) = delete;
  RecordDispatcher& operator=(const RecordDispatcher&) = delete;

  // Turns the records of one message into sink records.
  void HandleRecords(const char* data, size_t size);
  // A process ended; writes its X unless the process wrote its own.
  void HandleExit(const WireRecord& record);
  // True if `pid` was named by a record that came through the channels only the traced tree
  // holds (the pipe, the inherited socket, the reaper's): a member of the tree, alive or not.
  bool InTree(int pid) const { return tree_pids_.contains(pid); }

 private:
  // False for the second F of a creation (the first was written).
  bool FirstFork(const WireRecord& w);

  RecordSink* sink_;
  absl::flat_hash_set<int64_t> exit_written_;  // pids whose X is in the log (until reaped)
  absl::flat_hash_set<int32_t> tree_pids_;     // see InTree
  // Creations (parent, child, token) of which one F was written and the other is awaited. An
  // entry ends when the second arrives; a side killed before its F leaves one.
  absl::flat_hash_set<std::tuple<int32_t, int32_t, uint32_t>> half_seen_;
};

bool RecordDispatcher::FirstFork(const WireRecord& w) {
  const uint32_t token = static_cast<uint32_t>(w.status);
  if (token == 0) return true;
  const auto key = std::make_tuple(w.pid, w.child_pid, token);
  if (half_seen_.erase(key) > 0) return false;
  half_seen_.insert(key);
  return true;
}

void RecordDispatcher::HandleRecords(const char* data, size_t size) {
  bool ok = DecodeRecords(data, size, [&](const WireRecord& w, const char* p1, const char* p2) {
    RecordKind kind;
    if (!RecordKindFromWire(w.kind, &kind)) return;
    Record r;
    r.kind = kind;
    r.pid = w.pid;
    tree_pids_.insert(w.pid);
    switch (kind) {
      case RecordKind::kFork:
        tree_pids_.insert(w.child_pid);
        if (!FirstFork(w)) return;
        r.child_pid = w.child_pid;
        exit_written_.erase(w.child_pid);  // a new process may reuse an old pid
        break;
      case RecordKind::kExit:
        if (!exit_written_.insert(w.pid).second) return;  // already written
        r.status = w.status;
        r.signal = w.signal;
        r.has_signal = true;
        break;
      default:
        r.path = absl::string_view(p1, w.len1);
        r.path2 = absl::string_view(p2, w.len2);
        break;
    }
    sink_->Add(r);
  });
  if (!ok) sink_->Add(Record::Comment(" preload: a malformed message from the interposer"));
}

void RecordDispatcher::HandleExit(const WireRecord& record) {
  if (exit_written_.erase(record.pid) > 0) return;  // the process wrote its own X
  sink_->Add(Record::Exit(record.pid, record.status, record.signal));
}

class PreloadBackend : public Backend {
 public:
  explicit PreloadBackend(PreloadOptions options) : options_(std::move(options)) {}

  absl::string_view name() const override { return options_.auto_mode ? "auto" : "preload"; }

  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override;

 private:
  const PreloadOptions options_;
  std::atomic<bool> said_no_library_{false};  // auto's fallback note is written once
};

absl::StatusOr<ExitStatus> PreloadBackend::Run(const Command& command, const TraceOptions& options,
                                               RecordSink* sink) {
  if (command.argv.empty()) return absl::InvalidArgumentError("preload: empty command");
  if (options.probes) {
    // The interposer does not yet wrap the stat family nor report failed calls (issue 22).
    if (options_.auto_mode && options_.fallback != nullptr) {
      sink->Add(Record::Comment(absl::StrCat(
          " auto: the preload interposer cannot record probes (--probes) yet: tracing the whole "
          "command with ",
          options_.fallback->name())));
      return options_.fallback->Run(command, options, sink);
    }
    return absl::UnimplementedError(
        "preload: the interposer cannot record absent-path probes (--probes) yet; use "
        "--backend=ptrace or auto");
  }

  // The environment of the command, with our variables.
  std::vector<std::string> env;
  if (command.env.has_value()) {
    env = *command.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  absl::StatusOr<std::string> found_program = FindProgram(command);
  if (!found_program.ok()) {
    return absl::Status(found_program.status().code(),
                        absl::StrCat("preload: cannot start ", command.argv[0], ": ",
                                     found_program.status().message()));
  }
  std::string program = *std::move(found_program);
  std::string probe_path = program;
  if (!command.cwd.empty() && program[0] != '/') probe_path = command.cwd + "/" + program;
  ExecProbe probe = ProbeExecutable(probe_path.c_str());
  bool unpreloadable = probe.kind != ExecKind::kPreloadable && probe.kind != ExecKind::kUnknown;
  // A set-ID command stays under preload, as set-ID programs later in the run do: under ptrace
  // it would run without its privilege.
  if (unpreloadable && probe.kind != ExecKind::kSecure && options_.auto_mode &&
      options_.fallback != nullptr) {
    sink->Add(Record::Comment(absl::StrCat(" auto: ", program, " is ", ExecKindReason(probe.kind),
                                           ": tracing with ", options_.fallback->name())));
    return options_.fallback->Run(command, options, sink);
  }

  std::string library = options_.library;
  if (library.empty()) {
    absl::StatusOr<std::string> found = FindPreloadFile("libfilemon_preload.so");
    if (!found.ok() && options_.auto_mode && options_.fallback != nullptr) {
      // auto without its library (a copied binary, an incomplete install): ptrace does it all.
      if (!said_no_library_.exchange(true)) {
        sink->Add(Record::Comment(absl::StrCat(
            " auto: libfilemon_preload.so not found beside the program or in its runfiles (set "
            "FILEMON_PRELOAD_DIR): tracing every command with ",
            options_.fallback->name())));
      }
      return options_.fallback->Run(command, options, sink);
    }
    if (!found.ok()) return found.status();
    library = *std::move(found);
  }
  if (access(library.c_str(), R_OK) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("preload: access(", library, ")"));
  }
  std::string helper = options_.helper;
  if (helper.empty() && options_.auto_mode) {
    absl::StatusOr<std::string> found = FindPreloadFile("filemon_preload_helper");
    if (found.ok()) helper = *std::move(found);
  }

  // The channel: a socketpair inherited by every process, and a named (abstract) socket for
  // processes that lost their descriptor.
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return absl::ErrnoToStatus(errno, "preload: socketpair(AF_UNIX, SOCK_SEQPACKET)");
  }
  std::string socket_name;
  const int listener = ListenOnFreshName(&socket_name);
  // A high descriptor number, out of the way of programs that use low ones.
  struct rlimit limit {};
  int high = 1000;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1100) {
    high = static_cast<int>(limit.rlim_cur) > 64 ? static_cast<int>(limit.rlim_cur) - 32 : 10;
  }
  // Room for bursts while the supervisor sleeps between drains (see the read loop).
  int sndbuf = 4 << 20;
  if (setsockopt(pair[1], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) {
    setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  int child_fd = fcntl(pair[1], F_DUPFD_CLOEXEC, high);
  close(pair[1]);
  if (child_fd < 0) {
    close(pair[0]);
    if (listener >= 0) close(listener);
    return absl::ErrnoToStatus(errno, "preload: fcntl(F_DUPFD_CLOEXEC)");
  }
  // The pipe for messages up to PIPE_BUF (wire_format.h), as large as an unprivileged process
  // may make it: room for the records of many ticks. Without it everything uses the socket.
  int pipe_read = -1, pipe_child = -1;
  size_t pipe_capacity = 64 << 10;  // Linux's default; F_SETPIPE_SZ may be refused (quotas)
  {
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
      fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
      const int capacity = fcntl(p[0], F_GETPIPE_SZ);
      if (capacity > 0) pipe_capacity = static_cast<size_t>(capacity);
      fcntl(p[0], F_SETFL, O_NONBLOCK);
      pipe_child = fcntl(p[1], F_DUPFD_CLOEXEC, child_fd + 1);
      close(p[1]);
      if (pipe_child >= 0) {
        pipe_read = p[0];
      } else {
        close(p[0]);
      }
    }
  }

  std::vector<std::string> new_env;
  std::string user_preload;
  for (std::string& entry : env) {
    if (absl::StartsWith(entry, preload_internal::kEnvPrefix)) continue;
    if (absl::string_view(entry).substr(0, 11) == "LD_PRELOAD=") {
      user_preload = entry.substr(11);
      continue;
    }
    new_env.push_back(std::move(entry));
  }
  new_env.push_back(
      absl::StrCat("LD_PRELOAD=", library, user_preload.empty() ? "" : ":", user_preload));
  new_env.push_back(absl::StrCat(preload_internal::kEnvFd, "=", child_fd));
  // The tree-wide setlocale cache (interposer.cc): shared memory every traced process maps by
  // name, zero-filled, for as long as this run lasts.
  const int locale_shm = static_cast<int>(syscall(SYS_memfd_create, "filemon-locale", MFD_CLOEXEC));
  if (locale_shm >= 0 && ftruncate(locale_shm, preload_internal::kLocaleShmBytes) == 0) {
    new_env.push_back(
        absl::StrCat(preload_internal::kEnvLocaleShm, "=/proc/", getpid(), "/fd/", locale_shm));
  }
  struct CloseAtEnd {
    int fd;
    ~CloseAtEnd() {
      if (fd >= 0) close(fd);
    }
  } close_locale_shm{locale_shm};
  if (pipe_child >= 0) {
    new_env.push_back(absl::StrCat(preload_internal::kEnvPipe, "=", pipe_child));
  }
  // Only a name this run holds: a process that lost its descriptor must never reach another
  // listener (without the name it records nothing more, and its records are not sent away).
  if (listener >= 0) {
    new_env.push_back(absl::StrCat(preload_internal::kEnvSocket, "=", socket_name));
  }
  unsigned launch_options = 0;
  if (options.absolute_paths) launch_options |= preload_internal::kOptionAbsolutePaths;
  if (options_.auto_mode) launch_options |= preload_internal::kOptionAuto;
  if (launch_options != 0) {
    new_env.push_back(absl::StrCat(preload_internal::kEnvOptions, "=", launch_options));
  }
  if (options_.auto_mode && !helper.empty()) {
    new_env.push_back(absl::StrCat(preload_internal::kEnvHelper, "=", helper));
  }
  new_env.push_back(kPidPlaceholder);
  std::vector<char*> envp;
  for (std::string& e : new_env) envp.push_back(&e[0]);
  envp.push_back(nullptr);
  char* pid_digits = envp[envp.size() - 2] + sizeof(kPidPlaceholder) - 11;
  std::vector<std::string> argv_storage = command.argv;
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(&a[0]);
  argv.push_back(nullptr);

  // The reaper's own channel for the run's control messages (the command started or could
  // not, its exit, the end): no traced process holds it, so none can forge them.
  int control[2] = {-1, -1};
  const bool have_control = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) == 0;
  ScopedRun run_ended(options.control);
  pid_t reaper = have_control ? fork() : -1;
  if (reaper == 0) {
    close(control[0]);
    // The reaper passes the command's stdout/stderr on to it; a failed dup2 ends the run with
    // "the reaper ended before the command".
    if (RedirectCommandOutput(command) != 0) _exit(127);
    RunReaper(child_fd, pipe_child, control[1], program.c_str(), argv.data(), envp.data(),
              pid_digits, command.cwd.c_str());
  }
  int fork_errno = errno;
  close(child_fd);
  if (pipe_child >= 0) close(pipe_child);
  if (have_control) close(control[1]);
  const int control_read = control[0];
  if (reaper < 0) {
    if (control_read >= 0) close(control_read);
    close(pair[0]);
    if (pipe_read >= 0) close(pipe_read);
    if (listener >= 0) close(listener);
    return absl::ErrnoToStatus(fork_errno, "preload: fork");
  }
  // An unpreloadable command cannot write its own E: the supervisor does, with the reason.
  std::string absolute_program = program;
  if (program[0] != '/') {
    std::string base = command.cwd;
    if (base.empty() || base[0] != '/') {
      char cwd[PATH_MAX];
      if (getcwd(cwd, sizeof(cwd)) != nullptr) base = base.empty() ? cwd : StrCat(cwd, "/", base);
    }
    absl::string_view rest = program;
    while (rest.substr(0, 2) == "./") rest.remove_prefix(2);
    absolute_program = StrCat(base, "/", rest);
  }

  // Read until the reaper says nothing traced is alive; then drain what is queued.
  std::vector<int> conns = {pair[0]};
  std::vector<char> buffer(kMaxMessage + kDeferredPrefix + 1);
  RecordDispatcher dispatcher(sink);
  // Large messages wait for their marker in the pipe; plain socket messages for the pipe's
  // next drain (wire_format.h, "Order").
  absl::flat_hash_map<uint64_t, std::string> deferred;
  std::vector<std::string> unmarked;
  // The reaper's control messages, handled after the records received before them.
  std::vector<std::string> control_queue;
  std::function<void()> receive_sockets;
  ExitStatus root_status;
  bool root_done = false;
  bool done = false;
  absl::Status error;
  size_t forged = 0;  // control messages from traced processes, ignored
  // `trusted`: from the reaper's control channel, the only source of control messages.
  std::function<void(const char*, size_t, bool)> handle = [&](const char* data, size_t size,
                                                              bool trusted) {
    if (size < sizeof(MessageHeader)) return;
    MessageHeader header;
    std::memcpy(&header, data, sizeof(header));
    const bool control_type =
        header.type != MessageType::kRecords && header.type != MessageType::kReaped &&
        header.type != MessageType::kDeferred && header.type != MessageType::kMarker;
    if (control_type && !trusted) {
      ++forged;
      return;
    }
    const char* body = data + sizeof(header);
    size_t body_size = size - sizeof(header);
    WireRecord record{};
    if (header.type != MessageType::kRecords && body_size >= sizeof(record)) {
      std::memcpy(&record, body, sizeof(record));
    }
    switch (header.type) {
      case MessageType::kRecords:
        dispatcher.HandleRecords(body, body_size);
        break;
      case MessageType::kReaped:
        dispatcher.HandleExit(record);
        break;
      case MessageType::kDeferred:  // only from a socket, where receive_sockets stashes it
        break;
      case MessageType::kMarker: {
        uint64_t id = 0;
        if (body_size >= sizeof(id)) std::memcpy(&id, body, sizeof(id));
        auto it = deferred.find(id);
        if (it == deferred.end()) {
          receive_sockets();  // the send completed before the marker was written
          it = deferred.find(id);
        }
        if (it == deferred.end()) {
          sink->Add(Record::Comment(StrCat(" preload: a message of process ", header.sender,
                                           " was lost (its marker came alone)")));
          break;
        }
        const std::string message = std::move(it->second);
        deferred.erase(it);
        if (message.size() >= sizeof(MessageHeader)) {
          MessageHeader inner;
          std::memcpy(&inner, message.data(), sizeof(inner));
          if (inner.type == MessageType::kRecords || inner.type == MessageType::kReaped) {
            handle(message.data(), message.size(), false);
          }
        }
        break;
      }
      case MessageType::kRootExit:
        root_status.code = record.status;
        root_status.signal = record.signal;
        root_done = true;
        RunControlInternal::CommandExited(options.control);
        break;
      case MessageType::kRootExecError:
        error = absl::ErrnoToStatus(record.status,
                                    absl::StrCat("preload: cannot start ", command.argv[0], ": ",
                                                 record.signal == 1 ? "chdir(" + command.cwd + ")"
                                                                    : "execve(" + program + ")"));
        break;
      case MessageType::kDone:
        done = true;
        break;
      case MessageType::kRootStarted:
        RunControlInternal::CommandStarted(options.control, record.pid);
        if (unpreloadable) {
          sink->Add(
              Record::Comment(StrCat(" preload: ", program, " is ", ExecKindReason(probe.kind),
                                     ": ", ExecKindLoss(probe.kind))));
          sink->Add(Record::Path(RecordKind::kExec, record.pid, absolute_program));
        }
        break;
    }
  };
  size_t received = 0;
  // Reads every message queued on socket `fd`: a deferred one waits for its marker, any other
  // for the end of the pipe's next drain. Returns true when the peer closed.
  auto receive = [&](int fd, std::vector<std::string>* plain) {
    while (true) {
      ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n == 0;
      ++received;
      if (static_cast<size_t>(n) < sizeof(MessageHeader)) continue;
      MessageHeader header;
      std::memcpy(&header, buffer.data(), sizeof(header));
      if (header.type == MessageType::kDeferred && static_cast<size_t>(n) >= kDeferredPrefix) {
        uint64_t id;
        std::memcpy(&id, buffer.data() + sizeof(header), sizeof(id));
        deferred[id].assign(buffer.data() + kDeferredPrefix,
                            static_cast<size_t>(n) - kDeferredPrefix);
      } else {
        plain->emplace_back(buffer.data(), static_cast<size_t>(n));
      }
    }
  };
  // The named socket is reachable by anyone on the machine: only processes of the traced tree
  // (the reaper's descendants) may reconnect; the others are refused, counted and named.
  const pid_t tree_root = reaper;
  size_t refused = 0;
  struct ucred refused_peer {};
  // A peer that is no longer alive (it connected, sent and exited before this accept) cannot
  // be placed in the tree through /proc: it waits for the next drain of the pipe, where its
  // earlier records (its start, its parent's F) name it if it belongs to the tree.
  struct Undecided {
    int fd;
    struct ucred peer;
    bool drained;  // the pipe was drained since the accept
  };
  std::vector<Undecided> undecided;
  auto accept_all = [&]() {
    if (listener < 0) return;
    while (true) {
      int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      struct ucred peer {};
      socklen_t len = sizeof(peer);
      if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
        if (refused++ == 0) refused_peer = peer;
        close(c);
      } else if (DescendsFrom(peer.pid, tree_root) || dispatcher.InTree(peer.pid)) {
        conns.push_back(c);
      } else {
        undecided.push_back({c, peer, false});
      }
    }
  };
  // After a drain of the pipe: accepts the undecided peers the tree's records named, refuses
  // those still unknown after a whole drain (or all of them when `final`).
  auto decide = [&](bool final) {
    std::vector<Undecided> waiting;
    for (Undecided& u : undecided) {
      if (dispatcher.InTree(u.peer.pid)) {
        conns.push_back(u.fd);
        receive(u.fd, &unmarked);  // before any control message that came after it
      } else if (u.drained || final) {
        if (refused++ == 0) refused_peer = u.peer;
        close(u.fd);
      } else {
        u.drained = true;
        waiting.push_back(u);
      }
    }
    undecided.swap(waiting);
  };
  // Accepts reconnections, receives what every socket holds, closes reconnections that ended.
  // The control channel first: whatever a traced process sent before the reaper's message is
  // then on the sockets (or in the pipe) too, and handled before it.
  receive_sockets = [&]() {
    if (control_read >= 0) receive(control_read, &control_queue);
    accept_all();
    for (size_t i = 0; i < conns.size(); ++i) {
      if (receive(conns[i], &unmarked) && i > 0) {
        close(conns[i]);
        conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
        --i;
      }
    }
  };
  // The socket messages received so far, after a drain of the pipe: each sender's earlier pipe
  // writes came before.
  auto handle_unmarked = [&]() {
    std::vector<std::string> ready;
    ready.swap(unmarked);
    for (const std::string& message : ready) handle(message.data(), message.size(), false);
    // The reaper's messages wait while a peer is undecided: its records may precede them.
    if (!undecided.empty()) return;
    ready.clear();
    ready.swap(control_queue);
    for (const std::string& message : ready) handle(message.data(), message.size(), true);
  };
  // The pipe's stream: whole messages are handled, a message cut by the end of a read waits
  // in `pending` for the rest.
  std::string pending;
  size_t pipe_bytes = 0;  // read from the pipe since the last tick
  auto drain_pipe = [&]() {
    if (pipe_read < 0) return;
    while (!done) {
      const ssize_t n = read(pipe_read, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      pipe_bytes += static_cast<size_t>(n);
      pending.append(buffer.data(), static_cast<size_t>(n));
      size_t pos = 0;
      while (pending.size() - pos >= sizeof(MessageHeader)) {
        MessageHeader header;
        std::memcpy(&header, pending.data() + pos, sizeof(header));
        if (header.size < sizeof(MessageHeader)) {  // cannot happen: a writer's bug
          error = absl::InternalError("preload: a message without its size in the pipe");
          pending.clear();
          pos = 0;
          break;
        }
        if (pending.size() - pos < header.size) break;
        ++received;
        handle(pending.data() + pos, header.size, false);
        pos += header.size;
      }
      pending.erase(0, pos);
      // A short read emptied the pipe: what a sender queues from now on waits for the next
      // tick, instead of a read here that would find nothing (one system call a tick).
      if (static_cast<size_t>(n) < buffer.size()) return;
    }
  };
  // Reads every queued message of the sockets and the pipe, in their order (see
  // handle_unmarked). Returns the number of messages read.
  auto drain_all = [&]() {
    received = 0;
    receive_sockets();
    drain_pipe();
    decide(/*final=*/false);
    handle_unmarked();
    return received;
  };
  // The supervisor never waits where a sender would have to wake it: a write to a pipe whose
  // reader sleeps in poll(2) or read(2) pays for the wakeup (on this VM an inter-processor
  // interrupt: several microseconds, measured as most of the interposer's cost on a gcc
  // workload), a write nobody waits for only queues the message. So the supervisor sleeps in
  // poll on the reaper's pidfd (the traced tree is gone) and the sockets (rare: messages over
  // PIPE_BUF, reconnections), and drains the pipe on a tick timed from the rate at which the
  // last drains found records: long enough that about an eighth of the pipe fills between two
  // drains, at most kMaxTickMs; at once again when a drain found it a quarter full. Each wakeup
  // costs the traced programs too, even from another core (a side-by-side run on the 20-compile
  // gcc workload: a 50 ms tick in place of 2 ms took the overhead from 1.047x to 1.033x). The
  // pipe (1 MiB, or 64 KiB where a quota refuses more) then holds several ticks' worth of
  // records; a sender that finds it full blocks until the next drain. Kernels without
  // pidfd_open (< 5.3) wait in poll on the pipe and the sockets instead.
  constexpr int kMaxTickMs = 64;
  // A signal for what the command left (RunControl): passed to every process under the reaper.
  const int wake_fd = RunControlInternal::WakeFd(options.control);
  int signal_after_exit = 0;
  auto pass_signals = [&](const pollfd& wake) {
    if (wake.fd < 0 || wake.revents == 0) return;
    const int passed = PassTreeSignals(options.control, reaper);
    if (signal_after_exit == 0) signal_after_exit = passed;
  };
  const int reaper_fd = static_cast<int>(syscall(SYS_pidfd_open, reaper, 0));
  if (reaper_fd >= 0) {
    int tick_ms = 1;
    std::vector<pollfd> fds;
    struct timespec last_drain;
    clock_gettime(CLOCK_MONOTONIC, &last_drain);
    while (!done) {
      // The reaper's exit, and the sockets (rare: messages over PIPE_BUF, reconnections); the
      // pipe, which carries nearly everything, is drained on the tick.
      fds.clear();
      fds.push_back({reaper_fd, POLLIN, 0});
      fds.push_back({wake_fd, POLLIN, 0});  // ignored by poll when -1
      fds.push_back({control_read, POLLIN, 0});
      if (listener >= 0) fds.push_back({listener, POLLIN, 0});
      for (int c : conns) fds.push_back({c, POLLIN, 0});
      const int n = poll(fds.data(), fds.size(), tick_ms);
      if (n < 0 && errno != EINTR) {
        error = absl::ErrnoToStatus(errno, "preload: poll");
        break;
      }
      const bool exited = n > 0 && fds[0].revents != 0;
      if (n > 0) pass_signals(fds[1]);
      bool sockets = false;
      for (size_t i = 2; n > 0 && i < fds.size(); ++i) sockets |= fds[i].revents != 0;
      pipe_bytes = 0;
      if (sockets || exited) {
        drain_all();
      } else {
        drain_pipe();
      }
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      const double elapsed_ms =
          (now.tv_sec - last_drain.tv_sec) * 1e3 + (now.tv_nsec - last_drain.tv_nsec) / 1e6;
      last_drain = now;
      tick_ms = NextTickMs(pipe_bytes, pipe_capacity, elapsed_ms, kMaxTickMs);
      if (exited && !done) {
        // The reaper is gone without saying goodbye (killed): what is queued is all there is.
        int status;
        if (waitpid(reaper, &status, 0) == reaper) reaper = -1;
        break;
      }
    }
    close(reaper_fd);
  }
  bool busy = false;
  while (!done && reaper_fd < 0) {
    if (busy) {
      struct timespec pause = {0, 1000 * 1000};
      nanosleep(&pause, nullptr);
      busy = drain_all() > 0;
      continue;
    }
    std::vector<pollfd> fds;
    fds.push_back({wake_fd, POLLIN, 0});
    for (int c : conns) fds.push_back({c, POLLIN, 0});
    fds.push_back({control_read, POLLIN, 0});
    if (listener >= 0) fds.push_back({listener, POLLIN, 0});
    if (pipe_read >= 0) fds.push_back({pipe_read, POLLIN, 0});
    int n = poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      error = absl::ErrnoToStatus(errno, "preload: poll");
      break;
    }
    if (n > 0) pass_signals(fds[0]);
    if (n == 0) {
      // The reaper may have been killed without saying goodbye.
      int status;
      if (waitpid(reaper, &status, WNOHANG) == reaper) {
        reaper = -1;
        break;
      }
      continue;
    }
    busy = drain_all() > 0;
  }
  if (reaper > 0) {
    int status;
    while (waitpid(reaper, &status, 0) < 0 && errno == EINTR) {
    }
  }
  drain_pipe();
  receive_sockets();
  handle_unmarked();
  decide(/*final=*/true);  // the peers the tree named are in `conns` now: read them too
  receive_sockets();
  handle_unmarked();
  decide(/*final=*/true);
  // Deferred messages whose marker never came (the sender's pipe broke): out of place, but
  // not lost.
  for (auto& [id, message] : deferred) {
    if (message.size() >= sizeof(MessageHeader)) handle(message.data(), message.size(), false);
  }
  for (int c : conns) close(c);
  if (control_read >= 0) close(control_read);
  if (refused > 0) {
    sink->Add(Record::Comment(StrCat(" preload: refused ", refused,
                                     " connections from outside the traced tree (pid ",
                                     refused_peer.pid, " uid ", refused_peer.uid, ")")));
  }
  if (forged > 0) {
    sink->Add(Record::Comment(
        StrCat(" preload: ignored ", forged, " control messages sent by traced processes")));
  }
  if (pipe_read >= 0) close(pipe_read);
  if (listener >= 0) close(listener);
  if (!error.ok()) return error;
  if (!root_done) return absl::InternalError("preload: the reaper ended before the command");
  root_status.signal_after_exit = signal_after_exit;
  return root_status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> MakePreloadBackend(PreloadOptions options) {
  return std::unique_ptr<Backend>(new PreloadBackend(std::move(options)));
}

namespace {

// `root/REPO/rel` for every repository REPO of a runfiles tree: the consumer may have given
// filemon's repository any name.
void AddRunfilesCandidates(const std::string& root, const std::string& rel,
                           std::vector<std::string>* candidates) {
  DIR* dir = opendir(root.c_str());
  if (dir == nullptr) return;
  while (const struct dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    candidates->push_back(absl::StrCat(root, "/", entry->d_name, "/", rel));
  }
  closedir(dir);
}

}  // namespace

absl::StatusOr<std::string> FindPreloadFile(const std::string& name) {
  std::vector<std::string> candidates;
  if (const char* dir = getenv("FILEMON_PRELOAD_DIR"))
    candidates.push_back(absl::StrCat(dir, "/", name));
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string self(exe, static_cast<size_t>(n));
    std::string dir = self.substr(0, self.rfind('/'));
    const std::string rel = absl::StrCat("filemon/backends/preload/", name);
    candidates.push_back(absl::StrCat(dir, "/", name));
    candidates.push_back(absl::StrCat(dir, "/../lib/filemon/", name));  // bazel run //:install
    for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
      if (const char* r = getenv(env)) AddRunfilesCandidates(r, rel, &candidates);
    }
    AddRunfilesCandidates(self + ".runfiles", rel, &candidates);
    // bazel-bin: tools/filemon -> filemon/backends/preload/...; tests one level deeper.
    candidates.push_back(absl::StrCat(dir, "/../", rel));
    candidates.push_back(absl::StrCat(dir, "/../../", rel));
    candidates.push_back(absl::StrCat(dir, "/../../../", rel));
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), R_OK) == 0) {
      char resolved[PATH_MAX];
      if (realpath(c.c_str(), resolved) != nullptr) return std::string(resolved);
      return c;
    }
  }
  return absl::NotFoundError(absl::StrCat("preload: cannot find ", name, " (tried ",
                                          absl::StrJoin(candidates, ", "),
                                          "; set FILEMON_PRELOAD_DIR)"));
}

}  // namespace filemon
