#include "filemon/backends/ebpf/ebpf_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/ebpf/ebpf_session.h"
#include "filemon/backends/ebpf/event_reader.h"
#include "filemon/backends/ebpf/loader.h"
#include "filemon/backends/ptrace/syscall_table.h"
#include "filemon/backends/start_report.h"
#include "filemon/core/find_program.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/run_control_internal.h"

extern char** environ;

namespace filemon {
namespace {

using ebpf_internal::EventReader;
using ebpf_internal::LoadProgram;
using ebpf_internal::Program;
using ebpf_internal::SignalTree;
using ebpf_internal::TreeEmpty;

std::vector<char*> CArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// What the child needs between vfork and exec (prepared before: it allocates nothing).
struct ChildJob {
  const Command* command;
  const char* program;
  char* const* argv;
  char* const* env;
  const Program* traced;  // the child puts itself in its tree
  int failed_write;       // the errno and the failed step, if exec is not reached
  sigset_t mask;          // the caller's signal mask, for the command
};

// The child of a vfork: it shares the caller's memory until it execs or exits, so it only
// makes system calls and writes nothing but its own locals (errno aside).
[[noreturn]] void RunChild(const ChildJob& job) {
  // The caller's caught signals get their default action, as exec would give them (the child
  // has a copy of the caller's handlers: vfork shares memory, not them).
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
      signal(sig, SIG_DFL);
    }
  }
  int error = 0;
  StartStep step = StartStep::kChdir;
  if (!job.command->cwd.empty() && chdir(job.command->cwd.c_str()) != 0) {
    error = errno;
  } else if ((error = RedirectCommandOutput(*job.command)) != 0) {
    step = StartStep::kRedirect;
  } else if ((error = job.traced->AddSelf()) != 0) {
    // In the tree only now: the chdir and dup2 above are not the command's operations.
    step = StartStep::kTrace;
  } else {
    step = StartStep::kExec;
    pthread_sigmask(SIG_SETMASK, &job.mask, nullptr);
    execve(job.program, job.argv, job.env);
    error = errno;
  }
  WriteStartReport(job.failed_write, step, error);
  _exit(127);
}

// Starts the child: returns once it has exec'd or given up (a vfork: no copy of the caller's
// address space, the ring buffer's large double mapping included). A function of its own so
// that nothing of the caller's frame is live across the vfork.
__attribute__((noinline)) pid_t StartChild(const ChildJob& job) {
  const pid_t pid = vfork();
  if (pid == 0) RunChild(job);
  return pid;
}

// Follows the tree until it has gone: events into the sink, the root's status, signals passed
// on after its exit.
ExitStatus FollowTree(Program& program, pid_t pid, int pidfd, RunControl* control) {
  ExitStatus exit;
  bool reaped = false;
  for (;;) {
    pollfd fds[3] = {{program.events_fd(), POLLIN, 0},
                     {reaped ? -1 : pidfd, POLLIN, 0},
                     {RunControlInternal::WakeFd(control), POLLIN, 0}};
    // The program wakes this loop only for the tree's last exit or a half-full buffer, the
    // pidfd for the command's exit: drain every 50 ms.
    // After the root's exit, only the map says when the rest has gone: look every tick.
    poll(fds, 3, reaped ? 10 : 50);
    program.Consume();
    if (!reaped) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        reaped = true;
        exit.code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        RunControlInternal::CommandExited(control);
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & POLLIN)) {
      const TreeSignals signals = RunControlInternal::TakeTreeSignals(control);
      if (exit.signal_after_exit == 0) {
        exit.signal_after_exit = RunControlInternal::FirstSignal(signals.all);
      }
      SignalTree(program, signals);
    }
    if (reaped && TreeEmpty(program)) {
      program.Consume();
      return exit;
    }
  }
}

class EbpfBackend : public Backend {
 public:
  explicit EbpfBackend(const EbpfOptions& options) : options_(options) {}
  absl::string_view name() const override { return "ebpf"; }
  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override;
  absl::StatusOr<std::unique_ptr<TraceSession>> StartSession(const TraceOptions& options) override {
    return ebpf_internal::StartEbpfSession(options, options_.ring_buffer_bytes);
  }

 private:
  EbpfOptions options_;
};

absl::StatusOr<ExitStatus> EbpfBackend::Run(const Command& command, const TraceOptions& options,
                                            RecordSink* sink) {
  ScopedRun run_ended(options.control);
  if (command.argv.empty()) return absl::InvalidArgumentError("empty command");
  absl::StatusOr<std::string> program_path = FindProgram(command);
  if (!program_path.ok()) return program_path.status();
  std::vector<char*> argv = CArray(command.argv);
  std::vector<char*> envp = command.env.has_value() ? CArray(*command.env) : std::vector<char*>();

  EventReader reader(options, sink);
  Program program;
  absl::Status loaded = LoadProgram(options, options_.ring_buffer_bytes, &reader, &program);
  if (!loaded.ok()) return loaded;

  // The child's exec error, if it does not get that far (close-on-exec: empty after exec).
  int failed[2];
  if (pipe2(failed, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  OwnedFd failed_read(failed[0]), failed_write(failed[1]);
  ChildJob job{
      &command, program_path->c_str(), argv.data(), command.env.has_value() ? envp.data() : environ,
      &program, failed_write.get(),    {}};
  // No caller's handler may run in the child between vfork and exec.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &job.mask);
  const pid_t pid = StartChild(job);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &job.mask, nullptr);
  failed_write.reset();
  if (pid < 0) return absl::ErrnoToStatus(fork_errno, "vfork");
  OwnedFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  const int pidfd_errno = errno;
  absl::Status started = ReadStartReport(failed_read.get(), command, *program_path,
                                         "ebpf backend: cannot add the command to the tree");
  if (started.ok() && !pidfd.valid()) started = absl::ErrnoToStatus(pidfd_errno, "pidfd_open");
  if (!started.ok()) {
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return started;
  }
  RunControlInternal::CommandStarted(options.control, pid);
  ExitStatus exit = FollowTree(program, pid, pidfd.get(), options.control);
  pidfd.reset();

  absl::Status losses = reader.ReportLosses(program.lost_records(), sink);
  if (!losses.ok()) return losses;
  return exit;
}

bool HasCapability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

}  // namespace

absl::Status EbpfBackendAvailable() {
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  if (ptrace_internal::HostAbis().empty()) {
    return absl::UnimplementedError("ebpf backend: no system call table for this CPU");
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return absl::UnavailableError(
        "ebpf backend: the kernel has no BTF (/sys/kernel/btf/vmlinux is missing: a kernel "
        "built with CONFIG_DEBUG_INFO_BTF is needed)");
  }
  struct utsname u;
  int major = 0, minor = 0;
  if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
      (major < 5 || (major == 5 && minor < 17))) {
    return absl::UnavailableError(
        absl::StrCat("ebpf backend: Linux ", u.release, " is too old (5.17 or later is needed)"));
  }
  if (geteuid() != 0 && !(HasCapability(kCapBpf) && HasCapability(kCapPerfmon))) {
    return absl::UnavailableError(
        "ebpf backend: not root (loading the BPF program needs root or CAP_BPF and "
        "CAP_PERFMON)");
  }
  // The program names processes by their pids in the initial pid namespace, the one whose
  // /proc/PID/ns/pid has the kernel's fixed inode PROC_PID_INIT_INO (include/linux/proc_ns.h).
  // From another namespace, the command's pid would name another process to the kernel.
  constexpr ino_t kInitialPidNamespace = 0xEFFFFFFCu;
  struct stat ns;
  if (stat("/proc/self/ns/pid", &ns) != 0 || ns.st_ino != kInitialPidNamespace) {
    return absl::UnavailableError(
        "ebpf backend: this process is not in the initial pid namespace (a container?): the "
        "kernel's pids are not the ones it sees");
  }
  return ebpf_internal::TrialLoad();
}

absl::StatusOr<std::unique_ptr<Backend>> MakeEbpfBackend(EbpfOptions options) {
  absl::Status available = EbpfBackendAvailable();
  if (!available.ok()) return available;
  return std::unique_ptr<Backend>(std::make_unique<EbpfBackend>(options));
}

}  // namespace filemon
