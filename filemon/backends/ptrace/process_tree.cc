#include "filemon/backends/ptrace/process_tree.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "filemon/backends/ptrace/child_setup.h"
#include "filemon/core/record.h"
#include "filemon/core/run_control_internal.h"

namespace filemon {
namespace ptrace_internal {
namespace {

bool IsStopSignal(int signal) {
  return signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU;
}

}  // namespace

struct ProcessTree::Tracee {
  pid_t tid = 0;
  pid_t tgid = 0;                // 0 until the parent's fork/clone event names it
  bool first_stop_seen = false;  // an auto-attached child's initial stop was consumed
  bool held = false;             // in its initial stop, waiting for the parent's event
  PendingCall call;
  uint64_t root_generation = 0;  // when `shares_root` was found (0: never)
  bool shares_root = false;      // the tracer may judge this thread's lookups itself
  size_t exec_length = 0;        // exec_path's length; 0: read /proc/PID/exe after the exec
  char exec_path[PATH_MAX + 1];
};

ProcessTree::ProcessTree(const TraceOptions& options, RecordSink* sink)
    : decoder_(options, sink), control_(options.control), probes_(options.probes) {}

ProcessTree::~ProcessTree() = default;

ProcessTree::Tracee* ProcessTree::Add(pid_t tid) {
  std::unique_ptr<Tracee>& slot = tracees_[tid];
  if (slot == nullptr) {
    slot.reset(new Tracee);
    slot->tid = tid;
  }
  return slot.get();
}

absl::Status ProcessTree::Seize(pid_t pid) {
  if (ptrace(PTRACE_SEIZE, pid, nullptr, TraceOptionsMask()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("ptrace(PTRACE_SEIZE, ", pid, ")"));
  }
  Tracee* t = Add(pid);
  t->tgid = pid;
  t->first_stop_seen = true;  // a seized process has no initial stop
  root_ = pid;
  RunControlInternal::CommandStarted(control_, pid);
  return absl::OkStatus();
}

void ProcessTree::Resume(pid_t tid, int request, int signal) {
  // ESRCH: the tracee was killed (SIGKILL) while stopped; its exit will be reported.
  ptrace(static_cast<__ptrace_request>(request), tid, nullptr,
         reinterpret_cast<void*>(static_cast<intptr_t>(signal)));
}

absl::StatusOr<ExitStatus> ProcessTree::Run() {
  pid_t waker = -1;
  while (!tracees_.empty()) {
    // Orphans left after the root: a Signal() must not wait for their next event.
    if (root_exited_ && waker < 0) waker = StartWaker();
    int status = 0;
    pid_t tid = waitpid(-1, &status, __WALL | __WNOTHREAD);
    if (tid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;  // every tracee is gone (e.g. killed while held)
      return absl::ErrnoToStatus(errno, "waitpid(-1, __WALL | __WNOTHREAD)");
    }
    if (tid == waker) {
      waker = -1;
      PassTreeSignals();
      continue;
    }
    if (WIFSTOPPED(status)) {
      HandleStop(tid, status);
    } else if (WIFEXITED(status) || WIFSIGNALED(status)) {
      HandleExit(tid, status);
    }
  }
  if (waker > 0) {
    kill(waker, SIGKILL);
    while (waitpid(waker, nullptr, __WNOTHREAD) < 0 && errno == EINTR) {
    }
  }
  if (!error_.ok()) return error_;
  if (!root_exited_) return absl::InternalError("the traced command vanished without an exit");
  root_exit_.signal_after_exit = signal_after_exit_;
  return root_exit_;
}

pid_t ProcessTree::StartWaker() {
  const int wake_fd = RunControlInternal::WakeFd(control_);
  if (wake_fd < 0 || waker_failed_) return -1;
  // Forked by the tracing thread, so that its exit ends the loop's waitpid. Async-signal-safe
  // calls only; the tracing thread blocks every signal, and so does the waker.
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Copies of the caller's descriptors would delay EOFs that others wait for.
    if (wake_fd > 0) syscall(SYS_close_range, 0U, static_cast<unsigned>(wake_fd) - 1, 0U);
    syscall(SYS_close_range, static_cast<unsigned>(wake_fd) + 1, ~0U, 0U);
    pollfd p{wake_fd, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  if (pid < 0) waker_failed_ = true;  // Signal() then waits for the orphans' next event
  return pid;
}

void ProcessTree::PassTreeSignals() {
  const TreeSignals signals = RunControlInternal::TakeTreeSignals(control_);
  if (signal_after_exit_ == 0) signal_after_exit_ = RunControlInternal::FirstSignal(signals.all);
  for (const auto& entry : tracees_) {
    const Tracee& t = *entry.second;
    if (t.tgid != 0 && t.tgid != t.tid) continue;  // a thread: its process gets it
    signals.SendTo(t.tid);
  }
}

void ProcessTree::HandleExit(pid_t tid, int status) {
  auto it = tracees_.find(tid);
  if (it == tracees_.end()) return;  // not ours (see the header: other children of the caller)
  Tracee* t = it->second.get();
  pid_t tgid = t->tgid != 0 ? t->tgid : t->tid;
  if (t->tid == tgid) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    decoder_.sink()->Add(Record::Exit(tgid, code, signal));
    decoder_.ForgetProcess(tgid);
    if (tid == root_) {
      root_exit_.code = code;
      root_exit_.signal = signal;
      root_exited_ = true;
      RunControlInternal::CommandExited(control_);
    }
  }
  tracees_.erase(it);
}

void ProcessTree::HandleStop(pid_t tid, int status) {
  auto it = tracees_.find(tid);
  if (it == tracees_.end()) {
    // An auto-attached child whose initial stop came before its parent's fork event: hold it
    // until that event says whether it is a thread, so that its `F` precedes its records.
    Tracee* t = Add(tid);
    t->first_stop_seen = true;
    t->held = true;
    return;
  }
  Tracee* t = it->second.get();
  int signal = WSTOPSIG(status);
  int event = static_cast<unsigned>(status) >> 16;
  if (!t->first_stop_seen) {
    t->first_stop_seen = true;
    Resume(tid, PTRACE_CONT, 0);
    return;
  }
  if (signal == (SIGTRAP | 0x80)) {
    OnSyscallExit(t);
    Resume(tid, PTRACE_CONT, 0);
    return;
  }
  switch (event) {
    case 0:  // signal-delivery-stop: deliver it
      Resume(tid, PTRACE_CONT, signal);
      return;
    case PTRACE_EVENT_SECCOMP:
      OnSeccomp(t);  // resumes
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE:
      OnNewChild(t, event);
      Resume(tid, PTRACE_CONT, 0);
      return;
    case PTRACE_EVENT_EXEC:
      OnExec(t);  // may erase other tracees, never `t`'s own tid
      Resume(tid, PTRACE_CONT, 0);
      return;
    case PTRACE_EVENT_STOP:
      // Group-stop (SIGSTOP, SIGTSTP...): stay stopped as untraced, without eating SIGCONT.
      Resume(tid, IsStopSignal(signal) ? PTRACE_LISTEN : PTRACE_CONT, 0);
      return;
    default:
      Resume(tid, PTRACE_CONT, 0);
      return;
  }
}

void ProcessTree::OnSeccomp(Tracee* t) {
  __ptrace_syscall_info info;
  memset(&info, 0, sizeof(info));
  long n = ptrace(static_cast<__ptrace_request>(PTRACE_GET_SYSCALL_INFO), t->tid,
                  reinterpret_cast<void*>(sizeof(info)), &info);
  if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP) {
    Resume(t->tid, PTRACE_CONT, 0);
    return;
  }
  uint32_t data = info.seccomp.ret_data;
  t->call.op = OpOfSeccompData(data);
  t->call.abi = AbiOfSeccompData(data);
  t->call.nr = static_cast<uint32_t>(info.seccomp.nr);
  for (int i = 0; i < 6; ++i) t->call.args[i] = info.seccomp.args[i];
  pid_t tgid = t->tgid != 0 ? t->tgid : t->tid;
  switch (t->call.op) {
    case Op::kRefuse: {
      char text[160];
      snprintf(text, sizeof(text),
               "system call %llu of the %s ABI cannot be decoded by this build; the process is "
               "killed rather than traced wrongly",
               static_cast<unsigned long long>(info.seccomp.nr),
               std::string(AbiName(t->call.abi)).c_str());
      decoder_.Comment(tgid, text);
      fprintf(stderr, "filemon: pid %d: %s\n", static_cast<int>(tgid), text);
      kill(tgid, SIGKILL);
      Resume(t->tid, PTRACE_CONT, 0);
      return;
    }
    case Op::kExecve:
    case Op::kExecveat:
      // A successful exec never returns: the exec event records it, so no exit stop, except
      // with probes, where a failed exec (execvp's PATH search) is one.
      t->exec_length = decoder_.ExecPath(t->tid, t->call, t->exec_path, sizeof(t->exec_path));
      if (probes_) {
        ResumeProbe(t, tgid);
        return;
      }
      t->call.op = Op::kNone;
      Resume(t->tid, PTRACE_CONT, 0);
      return;
    case Op::kStatPath:
    case Op::kStatAt:
      ResumeProbe(t, tgid);
      return;
    case Op::kRootChange:
      // Every tracee is compared again after the call (its exit stop); before it too, for a
      // thread that shares this one's root and looks something up meanwhile.
      ++root_generation_;
      Resume(t->tid, PTRACE_SYSCALL, 0);
      return;
    case Op::kNone:
      Resume(t->tid, PTRACE_CONT, 0);
      return;
    default:
      Resume(t->tid, PTRACE_SYSCALL, 0);  // to the exit stop, for the result
      return;
  }
}

void ProcessTree::ResumeProbe(Tracee* t, pid_t tgid) {
  if (t->root_generation != root_generation_) {
    t->shares_root = tracer_root_.SameAs(t->tid);
    t->root_generation = root_generation_;
  }
  const Decoder::Judge judge =
      t->shares_root ? Decoder::Judge::kByTracer : Decoder::Judge::kAtExitOnly;
  if (decoder_.ProbeNeedsExit(t->tid, tgid, t->call, judge)) {
    Resume(t->tid, PTRACE_SYSCALL, 0);
    return;
  }
  t->call.op = Op::kNone;
  Resume(t->tid, PTRACE_CONT, 0);
}

void ProcessTree::OnSyscallExit(Tracee* t) {
  if (t->call.op == Op::kRootChange) ++root_generation_;
  __ptrace_syscall_info info;
  memset(&info, 0, sizeof(info));
  long n = ptrace(static_cast<__ptrace_request>(PTRACE_GET_SYSCALL_INFO), t->tid,
                  reinterpret_cast<void*>(sizeof(info)), &info);
  if (n > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT && t->call.op != Op::kNone) {
    pid_t tgid = t->tgid != 0 ? t->tgid : t->tid;
    decoder_.OnExit(t->tid, tgid, t->call, info.exit.rval);
  }
  t->call.op = Op::kNone;
}

void ProcessTree::OnNewChild(Tracee* parent, int event) {
  unsigned long message = 0;
  if (ptrace(PTRACE_GETEVENTMSG, parent->tid, nullptr, &message) != 0) return;
  pid_t child = static_cast<pid_t>(message);
  pid_t parent_tgid = parent->tgid != 0 ? parent->tgid : parent->tid;
  bool thread = false;
  if (event == PTRACE_EVENT_CLONE) {
    // clone() without SIGCHLD as exit signal is either a thread or a process; a thread shows in
    // its creator's /proc/PID/task.
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d", static_cast<int>(parent_tgid),
             static_cast<int>(child));
    struct stat st;
    thread = stat(path, &st) == 0;
  }
  if (!thread) decoder_.sink()->Add(Record::Fork(parent_tgid, child));
  Tracee* c = Add(child);
  c->tgid = thread ? parent_tgid : child;
  if (c->held) {
    c->held = false;
    Resume(child, PTRACE_CONT, 0);
  }
}

void ProcessTree::OnExec(Tracee* t) {
  unsigned long former = 0;
  ptrace(PTRACE_GETEVENTMSG, t->tid, nullptr, &former);
  Tracee* execer = t;
  std::unique_ptr<Tracee> gone;
  if (static_cast<pid_t>(former) != t->tid) {
    // A non-leader thread exec'd and took the leader's tid; its old tid never reports again.
    auto it = tracees_.find(static_cast<pid_t>(former));
    if (it != tracees_.end()) {
      gone = std::move(it->second);
      tracees_.erase(it);
      execer = gone.get();
    }
  }
  pid_t tgid = t->tgid != 0 ? t->tgid : t->tid;
  decoder_.OnExec(tgid, absl::string_view(execer->exec_path, execer->exec_length));
  t->exec_length = 0;
  t->call.op = Op::kNone;
}

}  // namespace ptrace_internal
}  // namespace filemon
