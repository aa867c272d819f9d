#include "filemon/backends/ebpf/ebpf_backend.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "filemon/backends/ebpf/event_reader.h"
#include "filemon/backends/ebpf/filemon.skel.h"
#include "filemon/backends/ptrace/syscall_table.h"
#include "filemon/core/find_program.h"
#include "filemon/core/record.h"
#include "filemon/core/run_control_internal.h"

extern char** environ;

namespace filemon {
namespace {

using ebpf_internal::EventReader;
using ebpf_internal::PlanFor;
using ptrace_internal::Abi;

// libbpf's warnings for the failure being reported, per thread. libbpf_set_print is libbpf's
// one global setting: it is set once, to this, and prints nothing itself.
thread_local std::string* t_libbpf_messages = nullptr;

int KeepLibbpfMessage(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || t_libbpf_messages == nullptr) return 0;
  char line[512];
  vsnprintf(line, sizeof(line), format, args);
  if (t_libbpf_messages->size() < 4096) t_libbpf_messages->append(line);
  return 0;
}

// A loaded and attached program with its ring buffer; detached and freed on destruction.
struct Program {
  filemon_bpf* skel = nullptr;
  ring_buffer* events = nullptr;
  ~Program() {
    if (events != nullptr) ring_buffer__free(events);
    if (skel != nullptr) filemon_bpf__destroy(skel);
  }
};

int OnEvent(void* reader, void* data, size_t size) {
  static_cast<EventReader*>(reader)->Add(data, size);
  return 0;
}

absl::Status LoadError(int error, absl::string_view what, const std::string& messages) {
  std::string text = absl::StrCat("ebpf backend: ", what, ": ", strerror(error));
  if (error == EPERM || error == EACCES) {
    absl::StrAppend(&text,
                    " (the kernel refused BPF: it needs root or CAP_BPF + CAP_PERFMON outside "
                    "a container or user namespace, and kernel.unprivileged_bpf_disabled or a "
                    "security module may forbid it)");
  }
  if (!messages.empty()) absl::StrAppend(&text, "; libbpf said: ", messages);
  return error == EPERM || error == EACCES ? absl::UnavailableError(text)
                                           : absl::InternalError(text);
}

absl::Status LoadProgram(const TraceOptions& options, size_t ring_bytes, EventReader* reader,
                         Program* program) {
  static std::once_flag print_once;
  std::call_once(print_once, [] { libbpf_set_print(KeepLibbpfMessage); });
  std::string messages;
  t_libbpf_messages = &messages;
  struct Reset {
    ~Reset() { t_libbpf_messages = nullptr; }
  } reset;

  program->skel = filemon_bpf__open();
  if (program->skel == nullptr) return LoadError(errno, "cannot open the BPF object", messages);
  program->skel->rodata->absolute_paths = options.absolute_paths;
  if (int err = bpf_map__set_max_entries(program->skel->maps.events, ring_bytes); err != 0) {
    return LoadError(-err, "bad ring buffer size", messages);
  }
  if (int err = filemon_bpf__load(program->skel); err != 0) {
    return LoadError(-err, "cannot load the BPF program", messages);
  }
  int plans = bpf_map__fd(program->skel->maps.plans);
  for (const ptrace_internal::AbiTable& abi : ptrace_internal::HostAbis()) {
    // The program knows x86-64's two ABIs (event.h: index 0 native, 1 compat).
    if (abi.abi != Abi::kX86_64 && abi.abi != Abi::kI386) continue;
    uint32_t index = abi.abi == Abi::kI386 ? 1 : 0;
    for (const ptrace_internal::SyscallEntry& entry : abi.entries) {
      fe_plan plan = PlanFor(entry.op, options);
      uint32_t key = index * FE_SYSCALL_MAX + entry.nr;
      if (plan.op == 0 || entry.nr >= FE_SYSCALL_MAX) continue;
      if (bpf_map_update_elem(plans, &key, &plan, BPF_ANY) != 0) {
        return LoadError(errno, "cannot fill the system call plans", messages);
      }
    }
  }
  if (int err = filemon_bpf__attach(program->skel); err != 0) {
    return LoadError(-err, "cannot attach the BPF program", messages);
  }
  program->events =
      ring_buffer__new(bpf_map__fd(program->skel->maps.events), OnEvent, reader, nullptr);
  if (program->events == nullptr) return LoadError(errno, "cannot map the ring buffer", messages);
  return absl::OkStatus();
}

// Whether the kernel's map of traced processes is empty: every process of the tree has exited,
// and each wrote its X into the ring buffer before it left the map.
bool TreeEmpty(int traced_fd) {
  uint32_t key;
  return bpf_map_get_next_key(traced_fd, nullptr, &key) != 0;
}

// Sends `signals` to every process of the tree still running.
void SignalTree(int traced_fd, const TreeSignals& signals) {
  std::vector<uint32_t> pids;
  uint32_t key, next;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(traced_fd, prev, &next) == 0) {
    pids.push_back(next);
    key = next;
    prev = &key;
  }
  for (uint32_t pid : pids) signals.SendTo(static_cast<pid_t>(pid));
}

std::vector<char*> CArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// What the child needs between fork and exec (prepared before the fork: it allocates nothing).
struct ChildJob {
  const Command* command;
  const char* program;
  char* const* argv;
  char* const* env;
  int ready_write;   // one byte once the child has done what is not to be traced
  int go_read;       // one byte once the child is in the traced map
  int failed_write;  // the errno and the failed step, if exec is not reached
  sigset_t mask;     // the caller's signal mask, for the command
};

[[noreturn]] void RunChild(const ChildJob& job) {
  // The caller's caught signals get their default action, as exec would give them.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
      signal(sig, SIG_DFL);
    }
  }
  int error = 0;
  const char* what = "chdir";
  char go = 0;
  if (!job.command->cwd.empty() && chdir(job.command->cwd.c_str()) != 0) {
    error = errno;
  } else if ((error = RedirectCommandOutput(*job.command)) != 0) {
    what = "dup2";
  } else if (write(job.ready_write, "r", 1) != 1 || read(job.go_read, &go, 1) != 1) {
    error = ECHILD;
    what = "trace";
  } else {
    what = "execve";
    pthread_sigmask(SIG_SETMASK, &job.mask, nullptr);
    execve(job.program, job.argv, job.env);
    error = errno;
  }
  char report[sizeof(int) + 8] = {};
  memcpy(report, &error, sizeof(int));
  strncpy(report + sizeof(int), what, 7);
  (void)!write(job.failed_write, report, sizeof(report));
  _exit(127);
}

// The error the child reported before exec, if any.
absl::Status ChildError(int failed_read, const Command& command, const std::string& program) {
  char report[sizeof(int) + 8] = {};
  fcntl(failed_read, F_SETFL, O_NONBLOCK);
  if (read(failed_read, report, sizeof(report)) != static_cast<ssize_t>(sizeof(report))) {
    return absl::OkStatus();
  }
  int error;
  memcpy(&error, report, sizeof(int));
  absl::string_view what(report + sizeof(int));
  std::string target = what == "chdir"  ? command.cwd
                       : what == "dup2" ? std::string("the command's output")
                                        : program;
  return absl::ErrnoToStatus(error,
                             absl::StrCat("cannot start the command: ", what, "(", target, ")"));
}

// Follows the tree until it has gone: events into the sink, the root's status, signals passed
// on after its exit.
ExitStatus FollowTree(const Program& program, pid_t pid, int pidfd, RunControl* control) {
  int traced = bpf_map__fd(program.skel->maps.traced);
  ExitStatus exit;
  bool reaped = false;
  for (;;) {
    pollfd fds[3] = {{ring_buffer__epoll_fd(program.events), POLLIN, 0},
                     {reaped ? -1 : pidfd, POLLIN, 0},
                     {RunControlInternal::WakeFd(control), POLLIN, 0}};
    // After the root's exit, only the map says when the rest has gone: look every tick.
    poll(fds, 3, reaped ? 10 : 250);
    ring_buffer__consume(program.events);
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
      SignalTree(traced, signals);
    }
    if (reaped && TreeEmpty(traced)) {
      ring_buffer__consume(program.events);
      return exit;
    }
  }
}

// The three pipes of the child's handshake; every end still open is closed on destruction.
struct Pipes {
  int ready[2] = {-1, -1};
  int go[2] = {-1, -1};
  int failed[2] = {-1, -1};
  absl::Status Make() {
    for (int* p : {ready, go, failed}) {
      if (pipe2(p, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
    }
    return absl::OkStatus();
  }
  static void Close(int* fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  void CloseChildEnds() {
    Close(&ready[1]);
    Close(&go[0]);
    Close(&failed[1]);
  }
  ~Pipes() {
    for (int* p : {ready, go, failed}) {
      Close(&p[0]);
      Close(&p[1]);
    }
  }
};

// Once the child is ready: puts it in the traced map and lets it exec.
absl::Status AddToTree(const Program& program, pid_t pid, int pidfd, Pipes* pipes) {
  char ready = 0;
  ssize_t n;
  while ((n = read(pipes->ready[0], &ready, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) return absl::FailedPreconditionError("the command exited before it could be traced");
  if (pidfd < 0) return absl::ErrnoToStatus(errno, "pidfd_open");
  uint32_t key = static_cast<uint32_t>(pid);
  uint8_t one = 1;
  if (bpf_map_update_elem(bpf_map__fd(program.skel->maps.traced), &key, &one, BPF_ANY) != 0) {
    return absl::ErrnoToStatus(errno, "ebpf backend: cannot add the command to the tree");
  }
  if (write(pipes->go[1], "g", 1) != 1) return absl::ErrnoToStatus(errno, "write(go pipe)");
  Pipes::Close(&pipes->go[1]);
  return absl::OkStatus();
}

class EbpfBackend : public Backend {
 public:
  explicit EbpfBackend(const EbpfOptions& options) : options_(options) {}
  absl::string_view name() const override { return "ebpf"; }
  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override;

 private:
  EbpfOptions options_;
};

absl::StatusOr<ExitStatus> EbpfBackend::Run(const Command& command, const TraceOptions& options,
                                            RecordSink* sink) {
  ScopedRun run_ended(options.control);
  if (command.argv.empty()) return absl::InvalidArgumentError("empty command");
  if (options.probes) {
    return absl::UnimplementedError(
        "ebpf backend: --probes is not supported yet (issue 23); use --backend=ptrace");
  }
  absl::StatusOr<std::string> program_path = FindProgram(command);
  if (!program_path.ok()) return program_path.status();
  std::vector<char*> argv = CArray(command.argv);
  std::vector<char*> envp = command.env.has_value() ? CArray(*command.env) : std::vector<char*>();

  EventReader reader(options, sink);
  Program program;
  absl::Status loaded = LoadProgram(options, options_.ring_buffer_bytes, &reader, &program);
  if (!loaded.ok()) return loaded;

  // The child's handshake: `ready` when its chdir and dup2 are done (not the command's
  // operations), `go` once it is in the traced map, `failed` if it cannot exec.
  Pipes pipes;
  absl::Status made = pipes.Make();
  if (!made.ok()) return made;
  ChildJob job{&command,        program_path->c_str(),
               argv.data(),     command.env.has_value() ? envp.data() : environ,
               pipes.ready[1],  pipes.go[0],
               pipes.failed[1], {}};
  // No caller's handler may run in the child between fork and exec.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &job.mask);
  pid_t pid = fork();
  if (pid == 0) RunChild(job);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &job.mask, nullptr);
  pipes.CloseChildEnds();
  if (pid < 0) return absl::ErrnoToStatus(fork_errno, "fork");
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  absl::Status started = AddToTree(program, pid, pidfd, &pipes);
  if (!started.ok()) {
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (pidfd >= 0) close(pidfd);
    absl::Status child_error = ChildError(pipes.failed[0], command, *program_path);
    return child_error.ok() ? started : child_error;
  }
  RunControlInternal::CommandStarted(options.control, pid);
  ExitStatus exit = FollowTree(program, pid, pidfd, options.control);
  close(pidfd);
  absl::Status child_error = ChildError(pipes.failed[0], command, *program_path);
  if (!child_error.ok()) return child_error;

  uint64_t lost = program.skel->bss->lost_records + reader.malformed();
  if (lost != 0) {
    sink->Add(Record::Comment(absl::StrCat(" filemon: lost ", lost, " records")));
    return absl::DataLossError(absl::StrCat(
        "ebpf backend: lost ", lost, " records (the ring buffer was full); the log is incomplete"));
  }
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
  return absl::OkStatus();
}

std::unique_ptr<Backend> MakeEbpfBackend(const EbpfOptions& options) {
  return std::make_unique<EbpfBackend>(options);
}

}  // namespace filemon
