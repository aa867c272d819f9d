#include "filemon/backends/preload/preload_session.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

// A session's environment and what it is made from: the process's supervisor, the settings,
// and the tree's pipe descriptor. All but the descriptor are the same for every command of a
// process, and the descriptor takes one of a few numbers (the lowest free above the socket), so
// an environment is made once per such key and kept between sessions (TakeBase, KeepBase).
struct SessionBase {
  const SharedSupervisor* supervisor = nullptr;
  std::string library;
  std::string helper;    // auto's ptrace helper; empty: none
  unsigned options = 0;  // LaunchOption bits
  int pipe_fd = -1;
  std::unique_ptr<SessionEnvironment> env;

  bool Matches(const SharedSupervisor* s, const SessionSettings& settings, unsigned o,
               int fd) const {
    return supervisor == s && options == o && pipe_fd == fd && library == settings.library &&
           helper == (settings.auto_mode ? settings.helper : std::string_view());
  }
};

// The bases of ended sessions (never destroyed: a session may end during the process's
// exit). A forked child never waits for this lock (another thread may have held it at the
// fork): it makes its bases itself, as a caller does whenever the lock is busy, and never
// matches its parent's (they name the parent's supervisor).
struct KeptBases {
  static constexpr size_t kMax = 8;
  absl::Mutex mu;
  std::vector<std::unique_ptr<SessionBase>> bases ABSL_GUARDED_BY(mu);
};
KeptBases& Kept() {
  static KeptBases* const kept = new KeptBases;
  return *kept;
}

// A kept base for this key whose environment has the room a new one would get now; null if
// none.
std::unique_ptr<SessionBase> TakeBase(const SharedSupervisor* supervisor,
                                      const SessionSettings& settings, unsigned options,
                                      int pipe_fd) {
  KeptBases& kept = Kept();
  if (!kept.mu.TryLock()) return nullptr;
  std::unique_ptr<SessionBase> taken;
  for (auto it = kept.bases.begin(); it != kept.bases.end(); ++it) {
    if (!(*it)->Matches(supervisor, settings, options, pipe_fd)) continue;
    taken = std::move(*it);
    kept.bases.erase(it);
    break;
  }
  kept.mu.Unlock();
  if (taken != nullptr && !taken->env->HasRoomOfNew()) taken.reset();
  return taken;
}

void KeepBase(std::unique_ptr<SessionBase> base) {
  KeptBases& kept = Kept();
  if (!kept.mu.TryLock()) return;
  if (kept.bases.size() < KeptBases::kMax) kept.bases.push_back(std::move(base));
  kept.mu.Unlock();
}

class PreloadSession : public TraceSession {
 public:
  PreloadSession(int socket, std::unique_ptr<TracedTree> tree, std::unique_ptr<SessionBase> base)
      : socket_(socket), tree_(std::move(tree)), base_(std::move(base)) {}
  ~PreloadSession() override {
    if (!child_set_) base_->env->Restore();
    ForgetPending(0, base_->env.get());
    tree_.reset();  // kills a root still running (shared_supervisor.h)
    KeepBase(std::move(base_));
  }

  int PrepareChild() const override;
  absl::Status SetChild(int pid) override;
  int ReadFd() const override { return tree_->ready_fd(); }
  absl::StatusOr<bool> Process(RecordSink* sink) override { return tree_->Take(sink); }
  absl::Status Finish(RecordSink* sink) override;

 private:
  const int socket_;  // the shared supervisor's socket, inherited by every tree
  std::unique_ptr<TracedTree> tree_;
  std::unique_ptr<SessionBase> base_;  // the environment, kept for a next session at the end
  bool child_set_ = false;
};

int PreloadSession::PrepareChild() const {
  // The child's pid, asked once (getpid is a system call each time).
  const pid_t self = static_cast<pid_t>(RawSyscall0(SYS_getpid));
  const int error = base_->env->Enter(self);
  if (error != 0) return error;
  if (socket_ >= 0 && fcntl(socket_, F_SETFD, 0) != 0) return errno;
  if (const int error = tree_->PlaceChildPipe(); error != 0) return error;
  // This child's X is the log's from now on.
  if (const int error = SendPrepared(tree_->child_pipe(), self); error != 0) return error;
  // The caller's own exec goes through the hand-off: under auto a program the interposer
  // cannot enter goes to the helper, and an exec refused with E2BIG is tried with fewer of our
  // variables. Without Syscall User Dispatch neither happens (the log says the command sent no
  // record).
  HandoffOptions handoff;
  handoff.helper = base_->helper.empty() ? nullptr : base_->helper.c_str();
  handoff.fallbacks = base_->env.get();
  if (!g_armed_at_exec.load(std::memory_order_relaxed) || !LeavePending(handoff, self)) {
    ArmExecHandoff(handoff);
  }
  return 0;
}

absl::Status PreloadSession::SetChild(int pid) {
  // Before Start's locks, which a forked child's copy may hold.
  if (absl::Status maker = tree_->CheckMaker(); !maker.ok()) return maker;
  if (child_set_) return absl::FailedPreconditionError("preload session: SetChild twice");
  child_set_ = true;
  base_->env->Restore();
  if (pid > 0) ForgetPending(pid, nullptr);
  ReleaseHandoffRooms();
  tree_->Start(pid);
  return absl::OkStatus();
}

absl::Status PreloadSession::Finish(RecordSink* sink) {
  // In a forked child, SetChild and the tree's Finish fail (CheckMaker).
  if (!child_set_) {
    absl::Status s = SetChild(-1);
    if (!s.ok()) return s;
  }
  return tree_->Finish(sink);
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

namespace {

// A new base for `settings` and a tree whose pipe is `pipe_fd`.
absl::StatusOr<std::unique_ptr<SessionBase>> MakeBase(const SharedSupervisor* supervisor,
                                                      const SessionSettings& settings,
                                                      unsigned options, int pipe_fd) {
  auto base = std::make_unique<SessionBase>();
  base->supervisor = supervisor;
  base->library = settings.library;
  if (settings.auto_mode) base->helper = settings.helper;
  base->options = options;
  base->pipe_fd = pipe_fd;
  LaunchSettings launch;
  launch.library = settings.library;
  launch.socket_fd = supervisor->child_socket();
  launch.pipe_fd = pipe_fd;
  launch.socket_name = supervisor->socket_name();
  launch.locale_shm_path = supervisor->locale_shm_path();
  launch.options = options;
  launch.helper = base->helper;  // as the key has it (Matches): auto's alone
  // The launch protocol's variables, as a run's command gets them; LD_PRELOAD and the pid are
  // made by the environment at the fork, from the caller's environment then.
  SessionEnvironment::Options env_options;
  env_options.library = settings.library;
  const std::string pid_prefix = StrCat(kEnvPid, "=");
  for (std::string& entry : BuildLaunchEnvironment({}, launch)) {
    if (absl::StartsWith(entry, kEnvPrefix) && !absl::StartsWith(entry, pid_prefix)) {
      env_options.variables.push_back(std::move(entry));
    }
  }
  absl::StatusOr<std::unique_ptr<SessionEnvironment>> env =
      SessionEnvironment::Create(std::move(env_options));
  if (!env.ok()) return env.status();
  base->env = *std::move(env);
  return base;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TraceSession>> StartPreloadSession(const SessionSettings& settings) {
  absl::StatusOr<SharedSupervisor*> supervisor = SharedSupervisor::ForThisProcess();
  if (!supervisor.ok()) return supervisor.status();
  absl::StatusOr<std::unique_ptr<TracedTree>> tree = (*supervisor)->NewTree();
  if (!tree.ok()) return tree.status();
  unsigned options = 0;
  if (settings.absolute_paths) options |= kOptionAbsolutePaths;
  if (settings.auto_mode) options |= kOptionAuto;
  if (settings.probes) options |= kOptionProbes;
  const int pipe_fd = (*tree)->child_pipe();
  std::unique_ptr<SessionBase> base = TakeBase(*supervisor, settings, options, pipe_fd);
  if (base == nullptr) {
    absl::StatusOr<std::unique_ptr<SessionBase>> made =
        MakeBase(*supervisor, settings, options, pipe_fd);
    if (!made.ok()) return made.status();
    base = *std::move(made);
  }
  return std::unique_ptr<TraceSession>(
      new PreloadSession((*supervisor)->child_socket(), *std::move(tree), std::move(base)));
}

}  // namespace preload_internal
}  // namespace filemon
