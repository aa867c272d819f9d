// File: filemon/backends/ptrace/process_tree.h
//
// The tracer's event loop: follows a seized root process and every descendant (fork, vfork,
// clone, clone3; threads folded into their process), turns ptrace stops into records through
// the `Decoder`, and returns when every traced process has exited, orphans included.
//
// Stops per traced call: a seccomp stop (PTRACE_GET_SYSCALL_INFO gives the tag, the arguments
// and the ABI in one call) and, except for execve/execveat whose success shows as the exec
// event, one syscall-exit stop (PTRACE_GET_SYSCALL_INFO again for the result). No other
// syscall stops: the tracee runs with PTRACE_CONT between traced calls. With probes, a call
// traced for its probe (the stat family, a failed exec) skips its exit stop when the decoder
// says it cannot give a new `N` (`Decoder::ProbeNeedsExit`: the tracer finds the path itself,
// when the tracee resolves paths as it does, see lookup_precheck.h).
//
// The loop waits with waitpid(-1, __WALL | __WNOTHREAD): only for the calling thread's own
// children and tracees, so the thread that seizes and runs must have no child of its own besides
// the root (the ptrace backend traces from a dedicated thread). No other thread of the process
// may call wait(), waitpid(-1) or waitid(P_ALL) meanwhile: Linux would hand it our stops.
//
// Signals: `TraceOptions::control` learns the root's pid at `Seize` and its exit; once the root
// has exited and orphans remain, the loop also watches the control's wake descriptor (through a
// small untraced child process that exits when it becomes readable, since waitpid cannot poll)
// and passes its signals to every remaining tracee.
//
// Example:
//   ProcessTree tree(options, &sink);
//   absl::Status s = tree.Seize(pid);   // pid blocked in PrepareTracedChild
//   write(go_fd, "g", 1);
//   absl::StatusOr<ExitStatus> exit = tree.Run();

#ifndef FILEMON_BACKENDS_PTRACE_PROCESS_TREE_H_
#define FILEMON_BACKENDS_PTRACE_PROCESS_TREE_H_

#include <sys/types.h>

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "filemon/backends/ptrace/decoder.h"
#include "filemon/backends/ptrace/lookup_precheck.h"
#include "filemon/core/backend.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace ptrace_internal {

class ProcessTree {
 public:
  ProcessTree(const TraceOptions& options, RecordSink* sink);
  ProcessTree(const ProcessTree&) = delete;  // owns the tracees' state
  ProcessTree& operator=(const ProcessTree&) = delete;
  ~ProcessTree();

  // PTRACE_SEIZEs `pid` with the tracing options; it becomes the root.
  absl::Status Seize(pid_t pid);

  // Runs until every traced process has exited. Returns how the root ended.
  absl::StatusOr<ExitStatus> Run();

 private:
  struct Tracee;
  void HandleStop(pid_t tid, int status);
  void HandleExit(pid_t tid, int status);
  void OnSeccomp(Tracee* t);
  void OnSyscallExit(Tracee* t);
  // With probes, at the seccomp stop of a call traced for its probe: resumes `t` to its exit
  // stop only if the call may give a new `N`.
  void ResumeProbe(Tracee* t, pid_t tgid);
  void OnNewChild(Tracee* parent, int event);
  void OnExec(Tracee* t);
  void Resume(pid_t tid, int request, int signal);
  Tracee* Add(pid_t tid);
  // Passes the control's queued signals to every remaining tracee.
  void PassTreeSignals();

  // A child that exits once the control's wake descriptor is readable (-1 if none).
  pid_t StartWaker();

  Decoder decoder_;
  absl::flat_hash_map<pid_t, std::unique_ptr<Tracee>> tracees_;
  pid_t root_ = 0;
  ExitStatus root_exit_;
  bool root_exited_ = false;
  RunControl* control_;
  bool probes_;  // TraceOptions::probes: failed execs stop at their exit too
  // With probes: whether a tracee resolves paths as the tracer does, compared again for every
  // tracee once `root_generation_` has moved (by a kRootChange call) since its last comparison.
  RootComparer tracer_root_;
  uint64_t root_generation_ = 1;
  int signal_after_exit_ = 0;
  bool waker_failed_ = false;
  absl::Status error_;
};

}  // namespace ptrace_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_PROCESS_TREE_H_
