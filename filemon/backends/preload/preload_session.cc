#include "filemon/backends/preload/preload_session.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/preload/launch_environment.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/session_environment.h"
#include "filemon/backends/preload/session_exec_handoff.h"
#include "filemon/backends/preload/shared_supervisor.h"

namespace filemon {
namespace preload_internal {
namespace {

using absl::StrCat;

// SetHandoffArmedAtExec.
std::atomic<bool> g_armed_at_exec{false};

// Hand-offs `PrepareChild` left for the caller's exec function, one per prepared child until
// its parent's `SetChild`. After vfork the child writes its slot in the caller's memory; the
// parent finds the slot free again once `SetChild` has run (or the child exec'd: the exec
// function frees it first). A slot: free (pid 0), being filled (-1), or the child's pid.
struct PendingHandoff {
  std::atomic<pid_t> pid{0};
  HandoffOptions options;
};
PendingHandoff g_pending[8];

// In the child `self`: leaves `options` for its exec function. False if every slot is taken.
bool LeavePending(const HandoffOptions& options, pid_t self) {
  for (PendingHandoff& slot : g_pending) {
    pid_t expected = 0;
    if (!slot.pid.compare_exchange_strong(expected, -1)) continue;
    slot.options = options;
    slot.pid.store(self, std::memory_order_release);
    return true;
  }
  return false;
}

// In the parent: frees the slot of child `pid`, or every slot that points into `fallbacks`
// (a session going away).
void ForgetPending(pid_t pid, const ExecFallbacks* fallbacks) {
  for (PendingHandoff& slot : g_pending) {
    pid_t holder = slot.pid.load(std::memory_order_acquire);
    if (holder <= 0) continue;
    if (holder == pid || (fallbacks != nullptr && slot.options.fallbacks == fallbacks)) {
      slot.pid.compare_exchange_strong(holder, 0);
    }
  }
}

class PreloadSession : public TraceSession {
 public:
  PreloadSession(std::string helper, int socket, std::unique_ptr<TracedTree> tree,
                 std::unique_ptr<SessionEnvironment> env)
      : helper_(std::move(helper)), socket_(socket), tree_(std::move(tree)), env_(std::move(env)) {}
  ~PreloadSession() override {
    if (!child_set_) env_->Restore();
    ForgetPending(0, env_.get());
  }

  int PrepareChild() const override;
  absl::Status SetChild(int pid) override;
  int ReadFd() const override { return tree_->ready_fd(); }
  absl::StatusOr<bool> Process(RecordSink* sink) override { return tree_->Take(sink); }
  absl::Status Finish(RecordSink* sink) override;

 private:
  const std::string helper_;  // auto's ptrace helper; empty: none
  const int socket_;          // the shared supervisor's socket, inherited by every tree
  // Destroyed before `env_`: a tree dropped early kills its root (shared_supervisor.h).
  std::unique_ptr<TracedTree> tree_;
  std::unique_ptr<SessionEnvironment> env_;
  bool child_set_ = false;
};

int PreloadSession::PrepareChild() const {
  // The child's pid, asked once (getpid is a system call each time).
  const pid_t self = static_cast<pid_t>(RawSyscall0(SYS_getpid));
  const int error = env_->Enter(self);
  if (error != 0) return error;
  for (int fd : {socket_, tree_->child_pipe()}) {
    if (fd >= 0 && fcntl(fd, F_SETFD, 0) != 0) return errno;
  }
  // This child's X is the log's from now on.
  if (const int error = SendPrepared(tree_->child_pipe(), self); error != 0) return error;
  // The caller's own exec goes through the hand-off: under auto a program the interposer
  // cannot enter goes to the helper, and an exec refused with E2BIG is tried with fewer of our
  // variables. Without Syscall User Dispatch neither happens (the log says the command sent no
  // record).
  HandoffOptions handoff;
  handoff.helper = helper_.empty() ? nullptr : helper_.c_str();
  handoff.fallbacks = env_.get();
  if (!g_armed_at_exec.load(std::memory_order_relaxed) || !LeavePending(handoff, self)) {
    ArmExecHandoff(handoff);
  }
  return 0;
}

absl::Status PreloadSession::SetChild(int pid) {
  if (child_set_) return absl::FailedPreconditionError("preload session: SetChild twice");
  child_set_ = true;
  env_->Restore();
  if (pid > 0) ForgetPending(pid, nullptr);
  ReleaseHandoffRooms();
  tree_->Start(pid);
  return absl::OkStatus();
}

absl::Status PreloadSession::Finish(RecordSink* sink) {
  if (!child_set_) {
    absl::Status s = SetChild(-1);
    if (!s.ok()) return s;
  }
  tree_->Finish(sink);
  return absl::OkStatus();
}

}  // namespace

void SetHandoffArmedAtExec(bool at_exec) { g_armed_at_exec.store(at_exec); }

namespace {

// The hand-off `PrepareChild` left for this process, taken from its slot; false if none.
bool TakePending(HandoffOptions* options) {
  if (!g_armed_at_exec.load(std::memory_order_relaxed)) return false;
  const pid_t self = static_cast<pid_t>(RawSyscall0(SYS_getpid));
  for (PendingHandoff& slot : g_pending) {
    if (slot.pid.load(std::memory_order_acquire) != self) continue;
    *options = slot.options;
    slot.pid.store(0, std::memory_order_release);
    return true;
  }
  return false;
}

}  // namespace

void ArmPendingHandoff() {
  HandoffOptions options;
  if (TakePending(&options)) ArmExecHandoff(options);
}

int ExecvePending(const char* path, char* const* argv, char* const* envp,
                  int (*real)(const char*, char* const*, char* const*)) {
  HandoffOptions options;
  if (TakePending(&options)) return ExecHandedOff(path, argv, envp, options);
  if (real != nullptr) return real(path, argv, envp);
  errno = ENOSYS;
  return -1;
}

absl::StatusOr<std::unique_ptr<TraceSession>> StartPreloadSession(const SessionSettings& settings) {
  absl::StatusOr<SharedSupervisor*> supervisor = SharedSupervisor::ForThisProcess();
  if (!supervisor.ok()) return supervisor.status();
  absl::StatusOr<std::unique_ptr<TracedTree>> tree = (*supervisor)->NewTree();
  if (!tree.ok()) return tree.status();
  LaunchSettings launch;
  launch.library = settings.library;
  launch.socket_fd = (*supervisor)->child_socket();
  launch.pipe_fd = (*tree)->child_pipe();
  launch.socket_name = (*supervisor)->socket_name();
  launch.locale_shm_path = (*supervisor)->locale_shm_path();
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
  return std::unique_ptr<TraceSession>(
      new PreloadSession(settings.auto_mode ? settings.helper : std::string(),
                         (*supervisor)->child_socket(), *std::move(tree), *std::move(env)));
}

}  // namespace preload_internal
}  // namespace filemon
