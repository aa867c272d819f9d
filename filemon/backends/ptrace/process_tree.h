// File: filemon/backends/ptrace/process_tree.h
//
// The tracer's event loop: follows a seized root process and every descendant (fork, vfork,
// clone, clone3; threads folded into their process), turns ptrace stops into records through
// the `Decoder`, and returns when every traced process has exited, orphans included.
//
// Stops per traced call: a seccomp stop (PTRACE_GET_SYSCALL_INFO gives the tag, the arguments
// and the ABI in one call) and, except for execve/execveat whose success shows as the exec
// event, one syscall-exit stop (PTRACE_GET_SYSCALL_INFO again for the result). No other
// syscall stops: the tracee runs with PTRACE_CONT between traced calls.
//
// The loop waits with waitpid(-1, __WALL): the calling process must not have other children it
// wants to reap while `Run` is in progress (their exits are consumed and ignored).
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

  // While `Run` is in progress, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the tracer with
  // kill(2) are passed on to the root process, and the tracer keeps tracing until everything has
  // exited. (A terminal's signals already reach the whole foreground group, command included,
  // and are not passed on a second time.) Installs the handlers process-wide; the destructor
  // restores the previous ones.
  void ForwardTerminationSignals();

 private:
  struct Tracee;
  void HandleStop(pid_t tid, int status);
  void HandleExit(pid_t tid, int status);
  void OnSeccomp(Tracee* t);
  void OnSyscallExit(Tracee* t);
  void OnNewChild(Tracee* parent, int event);
  void OnExec(Tracee* t);
  void Resume(pid_t tid, int request, int signal);
  Tracee* Add(pid_t tid);

  Decoder decoder_;
  absl::flat_hash_map<pid_t, std::unique_ptr<Tracee>> tracees_;
  pid_t root_ = 0;
  ExitStatus root_exit_;
  bool root_exited_ = false;
  bool forwarding_ = false;
  absl::Status error_;
};

}  // namespace ptrace_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_PROCESS_TREE_H_
