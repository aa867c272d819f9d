#include "filemon/backends/preload/preload_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "filemon/backends/preload/exec_probe.h"
#include "filemon/backends/preload/launch_environment.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/preload_session.h"
#include "filemon/backends/preload/pump.h"
#include "filemon/backends/preload/pump_wait.h"
#include "filemon/backends/preload/reaper.h"
#include "filemon/backends/preload/record_dispatcher.h"
#include "filemon/backends/preload/supervisor_channel.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/find_program.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record.h"
#include "filemon/core/run_control_internal.h"

extern "C" char** environ;

namespace filemon {
namespace {

using absl::StrCat;
using preload_internal::ControlHandler;
using preload_internal::ExecArrays;
using preload_internal::ExecKind;
using preload_internal::ExecKindLoss;
using preload_internal::ExecKindReason;
using preload_internal::ExecProbe;
using preload_internal::LaunchSettings;
using preload_internal::MessageType;
using preload_internal::PollWait;
using preload_internal::Pump;
using preload_internal::Reaper;
using preload_internal::ReaperLaunch;
using preload_internal::RecordDispatcher;
using preload_internal::SupervisorChannel;
using preload_internal::TickWait;
using preload_internal::WireRecord;

// What `Run` decides before it starts anything.
struct RunPlan {
  std::string program;  // the path execve gets (FindProgram's)
  ExecProbe probe;
  bool unpreloadable = false;  // the interposer cannot enter `program`
  std::string library;         // the interposer
  std::string helper;          // auto's ptrace helper; empty: none
  bool delegate = false;       // the fallback backend traces the whole command
};

// `program` as an absolute path (relative to the command's directory, then ours).
std::string AbsoluteProgram(const std::string& program, const std::string& cwd) {
  if (program[0] == '/') return program;
  std::string base = cwd;
  if (base.empty() || base[0] != '/') {
    char here[PATH_MAX];
    if (getcwd(here, sizeof(here)) != nullptr) base = base.empty() ? here : StrCat(here, "/", base);
  }
  absl::string_view rest = program;
  while (rest.substr(0, 2) == "./") rest.remove_prefix(2);
  return StrCat(base, "/", rest);
}

// One run's side of the reaper's messages: the command's start and end, the reaper's end, and
// the signals for what the command left.
class RunState : public ControlHandler {
 public:
  RunState(const Command& command, const TraceOptions& options, const RunPlan& plan,
           RecordSink* sink, RecordDispatcher* dispatcher, const Reaper* reaper)
      : command_(command),
        options_(options),
        plan_(plan),
        sink_(sink),
        dispatcher_(dispatcher),
        reaper_(reaper),
        // An unpreloadable command cannot write its own E: the supervisor does.
        absolute_program_(AbsoluteProgram(plan.program, command.cwd)) {}

  void OnControl(MessageType type, const WireRecord& record) override;
  void OnWake() override;
  bool finished() const override { return done_; }

  // The command's exit status, or why the run failed (`error` first).
  absl::StatusOr<ExitStatus> Result(absl::Status error) const;
  // True if the kernel refused every environment the command was given with E2BIG although
  // its own might fit: the fallback backend, which adds nothing to it, can run it.
  bool no_room() const { return no_room_; }

 private:
  // The command's process runs a program the interposer does not enter: the log says why
  // (`reason`: what is lost) and gets the E that the program cannot write.
  void RunsUnentered(int32_t pid, const std::string& reason);

  const Command& command_;
  const TraceOptions& options_;
  const RunPlan& plan_;
  RecordSink* sink_;
  RecordDispatcher* dispatcher_;
  const Reaper* reaper_;
  const std::string absolute_program_;
  ExitStatus root_status_;
  bool root_done_ = false;
  bool done_ = false;
  bool no_room_ = false;
  absl::Status exec_error_;
  int signal_after_exit_ = 0;
};

void RunState::OnControl(MessageType type, const WireRecord& record) {
  switch (type) {
    case MessageType::kRootExit:
      root_status_.code = record.status;
      root_status_.signal = record.signal;
      root_done_ = true;
      RunControlInternal::CommandExited(options_.control);
      break;
    case MessageType::kRootExecError:
      no_room_ = record.status == E2BIG && record.signal == 0;
      if (no_room_) dispatcher_->Disown(record.pid);
      exec_error_ = absl::ErrnoToStatus(
          record.status,
          StrCat("preload: cannot start ", command_.argv[0], ": ",
                 record.signal == 1
                     ? "chdir(" + command_.cwd + ")"
                     : DescribeFailedExec(record.status, plan_.program, command_.cwd)));
      break;
    case MessageType::kDone:
      done_ = true;
      break;
    case MessageType::kRootStarted:
      RunControlInternal::CommandStarted(options_.control, record.pid);
      if (plan_.unpreloadable) {
        RunsUnentered(record.pid,
                      StrCat(" preload: ", plan_.program, " is ", ExecKindReason(plan_.probe.kind),
                             ": ", ExecKindLoss(plan_.probe.kind)));
      }
      break;
    case MessageType::kRootUntraced:
      RunsUnentered(record.pid,
                    StrCat(" filemon: pid ", record.pid, " (", plan_.program,
                           ") ran untraced: its arguments and environment leave no room for the "
                           "interposer's variables (execve: E2BIG); neither its operations nor "
                           "those of the programs it starts are recorded (--backend=ptrace or "
                           "auto records them)"));
      break;
    default:
      break;
  }
}

void RunState::RunsUnentered(int32_t pid, const std::string& reason) {
  sink_->Add(Record::Comment(reason));
  sink_->Add(Record::Path(RecordKind::kExec, pid, absolute_program_));
  dispatcher_->MarkUnenterable(pid);
}

// A signal for what the command left (RunControl): passed to every process under the reaper.
void RunState::OnWake() {
  const TreeSignals signals = RunControlInternal::TakeTreeSignals(options_.control);
  if (signals.all != 0 || signals.group != 0) {
    for (pid_t pid : reaper_->Tree()) signals.SendTo(pid);
  }
  if (signal_after_exit_ == 0) signal_after_exit_ = RunControlInternal::FirstSignal(signals.all);
}

absl::StatusOr<ExitStatus> RunState::Result(absl::Status error) const {
  if (!error.ok()) return error;
  if (!exec_error_.ok()) return exec_error_;
  if (!root_done_) return absl::InternalError("preload: the reaper ended before the command");
  ExitStatus status = root_status_;
  status.signal_after_exit = signal_after_exit_;
  return status;
}

// The pump's loop until the reaper is done: on its pidfd's tick, or by polling where the
// kernel has no pidfd_open.
absl::Status PumpUntilDone(Pump* pump, Reaper* reaper, const SupervisorChannel& channel,
                           int wake_fd) {
  OwnedFd pidfd = reaper->OpenPidfd();
  if (pidfd.valid()) {
    TickWait wait(std::move(pidfd), channel.pipe_capacity());
    return pump->Run(&wait, wake_fd);
  }
  PollWait wait(channel.pipe(), [reaper] { return reaper->Exited(); });
  return pump->Run(&wait, wake_fd);
}

// What the command's process may exec, in the order it tries them on E2BIG (reaper.h).
struct LaunchArrays {
  std::unique_ptr<ExecArrays> traced, without_caches, untraced;

  void Fill(ReaperLaunch* launch) const {
    launch->exec = traced.get();
    launch->without_caches = without_caches.get();
    launch->untraced = untraced.get();
  }
};

// The traced command's environments: the caller's (or ours) with the launch protocol's
// variables, then without the optional ones, then (`untraced_allowed`) the caller's alone.
LaunchArrays MakeLaunchArrays(const Command& command, const LaunchSettings& settings,
                              bool untraced_allowed) {
  std::vector<std::string> env;
  if (command.env.has_value()) {
    env = *command.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  LaunchArrays arrays;
  arrays.traced = std::make_unique<ExecArrays>(
      command.argv, preload_internal::BuildLaunchEnvironment(env, settings));
  if (!settings.locale_shm_path.empty()) {
    LaunchSettings lean = settings;
    lean.locale_shm_path.clear();
    arrays.without_caches = std::make_unique<ExecArrays>(
        command.argv, preload_internal::BuildLaunchEnvironment(env, lean));
  }
  if (untraced_allowed) arrays.untraced = std::make_unique<ExecArrays>(command.argv, env);
  return arrays;
}

class PreloadBackend : public Backend {
 public:
  explicit PreloadBackend(PreloadOptions options) : options_(std::move(options)) {}

  absl::string_view name() const override { return options_.auto_mode ? "auto" : "preload"; }

  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override;
  // A session for a command the caller forks (preload_session.h).
  absl::StatusOr<std::unique_ptr<TraceSession>> StartSession(const TraceOptions& options) override;

 private:
  // True if auto mode has a fallback for what the interposer cannot do.
  bool CanFallBack() const { return options_.auto_mode && Fallback() != nullptr; }
  // The fallback backend (made by `make_fallback` at the first call); null if none.
  Backend* Fallback() const;
  // Decides how to run `command`; sets `plan->delegate` when the fallback must run it all.
  absl::Status Plan(const Command& command, RecordSink* sink, RunPlan* plan);
  // The interposer and, in auto mode, the helper (empty if missing). False: auto without the
  // library, whose fallback traces instead.
  // Looked for once per backend: a bmake session each command would otherwise pay for the
  // search of the runfiles and install folders.
  absl::StatusOr<bool> FindFiles(std::string* library, std::string* helper) const;
  absl::StatusOr<bool> LocateFiles(std::string* library, std::string* helper) const;
  // Runs the command under the interposer, as `plan` says. Sets `*no_room` if, with a
  // fallback, the command's argv and environment leave no room for the interposer's variables.
  absl::StatusOr<ExitStatus> Trace(const Command& command, const TraceOptions& options,
                                   const RunPlan& plan, RecordSink* sink, bool* no_room);

  mutable std::unique_ptr<Backend> fallback_;  // set once, under fallback_once_
  mutable absl::once_flag fallback_once_;
  const PreloadOptions options_;
  std::atomic<bool> said_no_library_{false};  // auto's fallback note is written once
  mutable absl::Mutex files_mu_;
  mutable absl::optional<absl::StatusOr<bool>> files_ ABSL_GUARDED_BY(files_mu_);
  mutable std::string found_library_ ABSL_GUARDED_BY(files_mu_);
  mutable std::string found_helper_ ABSL_GUARDED_BY(files_mu_);
};

Backend* PreloadBackend::Fallback() const {
  absl::call_once(fallback_once_, [this] {
    if (!options_.make_fallback) return;
    absl::StatusOr<std::unique_ptr<Backend>> made = options_.make_fallback();
    if (made.ok()) fallback_ = *std::move(made);
  });
  return fallback_.get();
}

absl::StatusOr<ExitStatus> PreloadBackend::Run(const Command& command, const TraceOptions& options,
                                               RecordSink* sink) {
  if (command.argv.empty()) return absl::InvalidArgumentError("preload: empty command");
  RunPlan plan;
  absl::Status planned = Plan(command, sink, &plan);
  if (!planned.ok()) return planned;
  if (plan.delegate) return Fallback()->Run(command, options, sink);
  bool no_room = false;
  absl::StatusOr<ExitStatus> traced = Trace(command, options, plan, sink, &no_room);
  if (!no_room) return traced;
  // The command's process failed its exec: nothing ran yet.
  sink->Add(Record::Comment(StrCat(" auto: the arguments and environment of ", plan.program,
                                   " leave no room for the interposer's variables (execve: "
                                   "E2BIG): tracing with ",
                                   Fallback()->name())));
  return Fallback()->Run(command, options, sink);
}

absl::Status PreloadBackend::Plan(const Command& command, RecordSink* sink, RunPlan* plan) {
  absl::StatusOr<std::string> found_program = FindProgram(command);
  if (!found_program.ok()) {
    return absl::Status(
        found_program.status().code(),
        StrCat("preload: cannot start ", command.argv[0], ": ", found_program.status().message()));
  }
  plan->program = *std::move(found_program);
  std::string probe_path = plan->program;
  if (!command.cwd.empty() && probe_path[0] != '/') probe_path = command.cwd + "/" + probe_path;
  plan->probe = preload_internal::ProbeExecutable(probe_path.c_str());
  const ExecKind kind = plan->probe.kind;
  plan->unpreloadable = kind != ExecKind::kPreloadable && kind != ExecKind::kUnknown;
  // A set-ID command stays under preload, as set-ID programs later in the run do: under ptrace
  // it would run without its privilege.
  if (plan->unpreloadable && kind != ExecKind::kSecure && CanFallBack()) {
    sink->Add(Record::Comment(StrCat(" auto: ", plan->program, " is ", ExecKindReason(kind),
                                     ": tracing with ", Fallback()->name())));
    plan->delegate = true;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> found = FindFiles(&plan->library, &plan->helper);
  if (!found.ok()) return found.status();
  if (!*found) {
    // auto without its library (a copied binary, an incomplete install): ptrace does it all.
    if (!said_no_library_.exchange(true)) {
      sink->Add(Record::Comment(StrCat(
          " auto: libfilemon_preload.so not found beside the program or in its runfiles (set "
          "FILEMON_PRELOAD_DIR): tracing every command with ",
          Fallback()->name())));
    }
    plan->delegate = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> PreloadBackend::FindFiles(std::string* library, std::string* helper) const {
  absl::MutexLock lock(&files_mu_);
  if (!files_.has_value()) files_ = LocateFiles(&found_library_, &found_helper_);
  *library = found_library_;
  *helper = found_helper_;
  return *files_;
}

absl::StatusOr<bool> PreloadBackend::LocateFiles(std::string* library, std::string* helper) const {
  *library = options_.library;
  if (library->empty()) {
    absl::StatusOr<std::string> found = FindPreloadFile("libfilemon_preload.so");  // readable
    if (!found.ok() && CanFallBack()) return false;
    if (!found.ok()) return found.status();
    *library = *std::move(found);
  } else if (access(library->c_str(), R_OK) != 0) {
    return absl::ErrnoToStatus(errno, StrCat("preload: access(", *library, ")"));
  }
  if (options_.auto_mode) {
    *helper = options_.helper;
    if (helper->empty()) {
      absl::StatusOr<std::string> found = FindPreloadFile("filemon_preload_helper");
      if (found.ok()) *helper = *std::move(found);
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<TraceSession>> PreloadBackend::StartSession(
    const TraceOptions& options) {
  preload_internal::SessionSettings settings;
  absl::StatusOr<bool> found = FindFiles(&settings.library, &settings.helper);
  if (!found.ok()) return found.status();
  if (!*found) return Fallback()->StartSession(options);
  settings.auto_mode = options_.auto_mode;
  settings.absolute_paths = options.absolute_paths;
  settings.probes = options.probes;
  return preload_internal::StartPreloadSession(settings);
}

absl::StatusOr<ExitStatus> PreloadBackend::Trace(const Command& command,
                                                 const TraceOptions& options, const RunPlan& plan,
                                                 RecordSink* sink, bool* no_room) {
  absl::StatusOr<SupervisorChannel> channel = SupervisorChannel::Open();
  if (!channel.ok()) return channel.status();
  LaunchSettings settings;
  settings.library = plan.library;
  settings.socket_fd = channel->child_socket();
  settings.pipe_fd = channel->child_pipe();
  settings.socket_name = channel->socket_name();
  // The tree-wide setlocale cache, for as long as this run lasts.
  const OwnedFd locale_shm = preload_internal::CreateLocaleShm(&settings.locale_shm_path);
  if (options.absolute_paths) settings.options |= preload_internal::kOptionAbsolutePaths;
  if (options_.auto_mode) settings.options |= preload_internal::kOptionAuto;
  if (options.probes) settings.options |= preload_internal::kOptionProbes;
  settings.helper = plan.helper;
  const LaunchArrays arrays = MakeLaunchArrays(command, settings, !CanFallBack());

  ScopedRun run_ended(options.control);
  ReaperLaunch launch;
  launch.command = &command;
  launch.program = plan.program.c_str();
  arrays.Fill(&launch);
  launch.socket_fd = channel->child_socket();
  launch.pipe_fd = channel->child_pipe();
  launch.control_fd = channel->control_child();
  absl::StatusOr<Reaper> reaper = Reaper::Start(launch);
  channel->CloseChildEnds();
  if (!reaper.ok()) return reaper.status();

  // Read until the reaper says nothing traced is alive; then drain what is queued.
  RecordDispatcher dispatcher(sink);
  RunState state(command, options, plan, sink, &dispatcher, &*reaper);
  Pump pump(&*channel, &dispatcher, &state);
  pump.AddTreeRoot(reaper->pid());
  const absl::Status pumped =
      PumpUntilDone(&pump, &*reaper, *channel, RunControlInternal::WakeFd(options.control));
  reaper->Wait();
  pump.Finish();
  dispatcher.FlushHeldExits();
  if (channel->refused() > 0) {
    sink->Add(Record::Comment(StrCat(
        " preload: refused ", channel->refused(), " connections from outside the traced tree (pid ",
        channel->first_refused().pid, " uid ", channel->first_refused().uid, ")")));
  }
  if (pump.forged() > 0) {
    sink->Add(Record::Comment(
        StrCat(" preload: ignored ", pump.forged(), " control messages sent by traced processes")));
  }
  *no_room = CanFallBack() && state.no_room();
  return state.Result(pumped.ok() ? pump.status() : pumped);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> MakePreloadBackend(PreloadOptions options) {
  return std::unique_ptr<Backend>(new PreloadBackend(std::move(options)));
}

namespace {

// This program's path (/proc/self/exe), read once per process (the library and the helper are
// both looked for beside it); empty if unknown.
const std::string& SelfExe() {
  static const std::string* const self = [] {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    return new std::string(exe, n > 0 ? static_cast<size_t>(n) : 0);
  }();
  return *self;
}

// The absolute path, free of symbolic links, of the readable file `path`: the kernel's name
// of the file opened (/proc/self/fd/N: three system calls, where realpath(3) asks once per
// component of the path); realpath's where /proc is not mounted; `path` itself if both fail.
std::string CanonicalPath(const std::string& path) {
  const OwnedFd fd(open(path.c_str(), O_PATH | O_CLOEXEC));
  if (fd.valid()) {
    const std::string link = absl::StrCat("/proc/self/fd/", fd.get());
    char resolved[PATH_MAX];
    const ssize_t n = readlink(link.c_str(), resolved, sizeof(resolved));
    if (n > 0 && n < static_cast<ssize_t>(sizeof(resolved)) && resolved[0] == '/') {
      return std::string(resolved, static_cast<size_t>(n));
    }
  }
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) != nullptr) return resolved;
  return path;
}

// The places a file is looked for, tried in order until one is readable; all of them are
// kept for the message that says none was.
class FileSearch {
 public:
  // True if `path` is readable: it is the one found.
  bool Try(std::string path) {
    tried_.push_back(std::move(path));
    return access(tried_.back().c_str(), R_OK) == 0;
  }
  // `root/REPO/rel` for every repository REPO of a runfiles tree (the consumer may have given
  // filemon's repository any name): true at the first readable one.
  bool TryRunfiles(const std::string& root, const std::string& rel) {
    DIR* dir = opendir(root.c_str());
    if (dir == nullptr) return false;
    bool found = false;
    while (const struct dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      if ((found = Try(absl::StrCat(root, "/", entry->d_name, "/", rel)))) break;
    }
    closedir(dir);
    return found;
  }
  // The last path tried, canonical (after a Try that returned true).
  std::string Found() const { return CanonicalPath(tried_.back()); }
  const std::vector<std::string>& tried() const { return tried_; }

 private:
  std::vector<std::string> tried_;
};

// True once `search` found `name` in one of the places beside this program (see
// FindPreloadFile).
bool SearchBesideProgram(const std::string& name, FileSearch* search) {
  const std::string& self = SelfExe();
  if (self.empty()) return false;
  const std::string dir = self.substr(0, self.rfind('/'));
  const std::string rel = absl::StrCat("filemon/backends/preload/", name);
  if (search->Try(absl::StrCat(dir, "/", name)) ||
      search->Try(absl::StrCat(dir, "/../lib/filemon/", name))) {  // bazel run //:install
    return true;
  }
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    const char* root = getenv(env);
    if (root != nullptr && search->TryRunfiles(root, rel)) return true;
  }
  if (search->TryRunfiles(self + ".runfiles", rel)) return true;
  // bazel-bin: tools/filemon -> filemon/backends/preload/...; tests one level deeper.
  return search->Try(absl::StrCat(dir, "/../", rel)) ||
         search->Try(absl::StrCat(dir, "/../../", rel)) ||
         search->Try(absl::StrCat(dir, "/../../../", rel));
}

}  // namespace

absl::StatusOr<std::string> FindPreloadFile(const std::string& name) {
  FileSearch search;
  const char* dir = getenv("FILEMON_PRELOAD_DIR");
  if ((dir != nullptr && search.Try(absl::StrCat(dir, "/", name))) ||
      SearchBesideProgram(name, &search)) {
    return search.Found();
  }
  return absl::NotFoundError(absl::StrCat("preload: cannot find ", name, " (tried ",
                                          absl::StrJoin(search.tried(), ", "),
                                          "; set FILEMON_PRELOAD_DIR)"));
}

}  // namespace filemon
