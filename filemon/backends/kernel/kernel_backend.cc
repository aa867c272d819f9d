#include "filemon/backends/kernel/kernel_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "filemon/backends/kernel/kernel_backend_internal.h"
#include "filemon/backends/kernel/kernel_log_follower.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/run_control_internal.h"

extern char** environ;

namespace filemon {
namespace {

// What the child reports through the close-on-exec pipe when it cannot reach exec.
struct ChildFailure {
  int stage;  // 1 chdir, 2 FILEMON_SET_PID, 3 exec, 4 dup2 (Command::stdout_fd/stderr_fd)
  int error_number;
};

// Everything the child needs, built before fork so that the child allocates nothing.
struct ExecPlan {
  std::vector<std::string> candidates;  // paths to try, in order (execvp's PATH search)
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan PlanExec(const Command& command) {
  ExecPlan plan;
  const std::string& file = command.argv[0];
  if (file.find('/') != std::string::npos) {
    plan.candidates.push_back(file);
  } else {
    const char* path = std::getenv("PATH");
    for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/bin:/usr/bin", ':')) {
      plan.candidates.push_back(dir.empty() ? file : absl::StrCat(dir, "/", file));
    }
  }
  for (const std::string& arg : command.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  if (command.env.has_value()) {
    for (const std::string& e : *command.env) plan.envp.push_back(const_cast<char*>(e.c_str()));
    plan.envp.push_back(nullptr);
  }
  return plan;
}

[[noreturn]] void ChildFail(int pipe_fd, int stage, int error_number) {
  ChildFailure failure{stage, error_number};
  ssize_t unused = ::write(pipe_fd, &failure, sizeof(failure));
  (void)unused;
  ::_exit(127);
}

// The child between fork and exec: async-signal-safe calls only.
[[noreturn]] void RunChild(const Command& command, const ExecPlan& plan,
                           const FilemonDevice& device, const KernelDeviceHooks& hooks,
                           int report_fd) {
  if (!command.cwd.empty() && ::chdir(command.cwd.c_str()) < 0) ChildFail(report_fd, 1, errno);
  if (const int e = RedirectCommandOutput(command); e != 0) ChildFail(report_fd, 4, e);
  int error_number = hooks.set_pid_in_child != nullptr ? hooks.set_pid_in_child(::getpid())
                                                       : device.SetPidInChild(::getpid());
  if (error_number != 0) ChildFail(report_fd, 2, error_number);
  char** envp = plan.envp.empty() ? environ : const_cast<char**>(plan.envp.data());
  // execvp's rules: ENOEXEC is not retried through a shell here (the kernel would log the
  // shell); EACCES is remembered and reported if nothing else is found.
  int saved = ENOENT;
  for (const std::string& candidate : plan.candidates) {
    ::execve(candidate.c_str(), plan.argv.data(), envp);
    if (errno == EACCES) {
      saved = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      saved = errno;
      break;
    }
  }
  ChildFail(report_fd, 3, saved);
}

// Sleeps `micros`, or less if `control` queues a signal for the remaining tree.
void Pause(long micros, const RunControl* control) {
  const int wake_fd = RunControlInternal::WakeFd(control);
  if (wake_fd < 0) {
    struct timespec ts = {micros / 1000000, (micros % 1000000) * 1000};
    while (::nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return;
  }
  pollfd p{wake_fd, POLLIN, 0};
  ::poll(&p, 1, static_cast<int>((micros + 999) / 1000));
}

// Sends the control's queued signals to every process the log still shows alive; returns the
// first one (0 if none).
int PassTreeSignals(RunControl* control, const KernelLogFollower& follower) {
  const TreeSignals signals = RunControlInternal::TakeTreeSignals(control);
  for (int64_t pid : follower.live()) signals.SendTo(static_cast<pid_t>(pid));
  return RunControlInternal::FirstSignal(signals.all);
}

class KernelBackend : public Backend {
 public:
  KernelBackend(KernelBackendOptions options, KernelDeviceHooks hooks)
      : options_(std::move(options)), hooks_(std::move(hooks)) {}

  absl::string_view name() const override { return "kernel"; }

  absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                 RecordSink* sink) override;

 private:
  absl::Status OpenLog(OwnedFd* write_fd, OwnedFd* read_fd) const;

  KernelBackendOptions options_;
  KernelDeviceHooks hooks_;
};

absl::Status KernelBackend::OpenLog(OwnedFd* write_fd, OwnedFd* read_fd) const {
  std::string dir = options_.temp_dir;
  if (dir.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string path = absl::StrCat(dir, "/filemon-kernel.XXXXXX");
  int fd = ::mkstemp(&path[0]);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("mkstemp(", path, ")"));
  write_fd->reset(fd);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  // A second descriptor to read with: the kernel appends through the first one's offset.
  int rfd;
  do {
    rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (rfd < 0 && errno == EINTR);
  int open_errno = errno;
  ::unlink(path.c_str());
  if (rfd < 0) return absl::ErrnoToStatus(open_errno, absl::StrCat("open(", path, ")"));
  read_fd->reset(rfd);
  return absl::OkStatus();
}

// Reads what the kernel appended since `*offset` and feeds it to `follower`.
absl::Status Drain(int fd, off_t* offset, std::string* buffer, KernelLogFollower* follower) {
  for (;;) {
    ssize_t n = ::pread(fd, &(*buffer)[0], buffer->size(), *offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "pread(filemon log)");
    }
    if (n == 0) return absl::OkStatus();
    *offset += n;
    follower->Feed(absl::string_view(buffer->data(), static_cast<size_t>(n)));
  }
}

absl::StatusOr<ExitStatus> KernelBackend::Run(const Command& command, const TraceOptions& options,
                                              RecordSink* sink) {
  ScopedRun run_ended(options.control);
  if (command.argv.empty()) return absl::InvalidArgumentError("kernel backend: empty command");
  if (options.absolute_paths) {
    return absl::UnimplementedError(
        "kernel backend: filemon(4) logs paths as the process passed them; absolute paths "
        "need the ptrace or preload backend");
  }
  if (options.probes) {
    return absl::UnimplementedError(
        "kernel backend: filemon(4) records only calls that succeeded, so it cannot see "
        "absent-path probes (--probes); use the ptrace backend");
  }
  absl::StatusOr<FilemonDevice> device = FilemonDevice::Open(options_.device_path);
  if (!device.ok()) return device.status();
  OwnedFd log_write, log_read;
  if (absl::Status s = OpenLog(&log_write, &log_read); !s.ok()) return s;
  int set_fd_error = hooks_.set_log_fd ? hooks_.set_log_fd(log_write.get())
                                       : device->SetLogFdErrno(log_write.get());
  if (set_fd_error != 0) {
    return FilemonError(FilemonCall::kSetFd, set_fd_error, device->path(), log_write.get());
  }
  log_write.reset();  // the kernel holds its own reference

  int report[2];
  if (::pipe(report) < 0) return absl::ErrnoToStatus(errno, "pipe()");
  OwnedFd report_read(report[0]), report_write(report[1]);
  ::fcntl(report[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(report[1], F_SETFD, FD_CLOEXEC);

  ExecPlan plan = PlanExec(command);
  pid_t child = ::fork();
  if (child < 0) return absl::ErrnoToStatus(errno, "fork()");
  if (child == 0) RunChild(command, plan, *device, hooks_, report_write.get());
  report_write.reset();
  RunControlInternal::CommandStarted(options.control, child);

  ChildFailure failure{0, 0};
  ssize_t got;
  do {
    got = ::read(report_read.get(), &failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  int wait_status = 0;
  if (got == static_cast<ssize_t>(sizeof(failure))) {
    while (::waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
    }
    device->Close().IgnoreError();
    switch (failure.stage) {
      case 1:
        return absl::ErrnoToStatus(failure.error_number, absl::StrCat("chdir(", command.cwd, ")"));
      case 2:
        return FilemonError(FilemonCall::kSetPid, failure.error_number, device->path(), child);
      case 4:
        return absl::ErrnoToStatus(failure.error_number, "dup2(the command's output)");
      default:
        return absl::ErrnoToStatus(failure.error_number,
                                   absl::StrCat("execvp(", command.argv[0], ")"));
    }
  }

  KernelLogFollower follower(sink);
  follower.AddLive(child);
  std::string buffer(64 * 1024, '\0');
  off_t offset = 0;
  bool reaped = false;
  int signal_after_exit = 0;
  long pause = 1000;
  std::vector<int64_t> gone;
  for (;;) {
    if (!reaped) {
      pid_t r = ::waitpid(child, &wait_status, WNOHANG);
      if (r == child) {
        reaped = true;
        RunControlInternal::CommandExited(options.control);
      } else if (r < 0 && errno != EINTR) {
        return absl::ErrnoToStatus(errno, absl::StrCat("waitpid(", child, ")"));
      }
    }
    // Processes that no longer exist are looked up before reading, so that their exit
    // record, written before they could be reaped, is read in the same round.
    gone.clear();
    if (reaped) {
      for (int64_t pid : follower.live()) {
        if (pid != child && ::kill(static_cast<pid_t>(pid), 0) < 0 && errno == ESRCH) {
          gone.push_back(pid);
        }
      }
    }
    size_t before = follower.records();
    if (absl::Status s = Drain(log_read.get(), &offset, &buffer, &follower); !s.ok()) return s;
    if (reaped) {
      follower.ForgetLive(child);
      for (int64_t pid : gone) follower.ForgetLive(pid);
      if (follower.live().empty()) break;
    }
    if (reaped) {
      const int passed = PassTreeSignals(options.control, follower);
      if (signal_after_exit == 0) signal_after_exit = passed;
    }
    pause = follower.records() != before ? 1000 : std::min(pause * 2, 50000L);
    Pause(pause, options.control);
  }
  absl::Status closed = device->Close();
  if (absl::Status s = Drain(log_read.get(), &offset, &buffer, &follower); !s.ok()) return s;
  follower.Finish();
  if (!closed.ok()) return closed;

  ExitStatus exit;
  exit.signal_after_exit = signal_after_exit;
  if (WIFSIGNALED(wait_status)) {
    exit.signal = WTERMSIG(wait_status);
  } else {
    exit.code = WEXITSTATUS(wait_status);
  }
  return exit;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> MakeKernelBackend(KernelBackendOptions options) {
  if (!PlatformHasFilemonDevice()) {
    // Do not even try: a /dev/filemon on Linux would be the Juniper out-of-tree module, whose
    // ioctl numbers (_IOW(0xf1, ...)) and log format differ.
    return FilemonError(FilemonCall::kOpen, ENOENT, options.device_path, 0);
  }
  absl::StatusOr<FilemonDevice> probe = FilemonDevice::Open(options.device_path);
  if (!probe.ok()) return probe.status();
  if (absl::Status s = probe->Close(); !s.ok()) return s;
  return NewKernelBackendUnchecked(std::move(options));
}

std::unique_ptr<Backend> NewKernelBackendUnchecked(KernelBackendOptions options,
                                                   KernelDeviceHooks hooks) {
  return std::make_unique<KernelBackend>(std::move(options), std::move(hooks));
}

}  // namespace filemon
