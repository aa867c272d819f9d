// File: filemon/core/backend.h
//
// The interface every tracing backend implements (ptrace, preload, kernel; see
// filemon/backends). Core defines it so that library users and the meta analyzer depend on core
// alone; `filemon/backends/backend_factory.h` maps a name ("ptrace", "preload", "kernel",
// "auto") to an implementation.
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend =
//       filemon::MakeBackend("auto");           // filemon/backends/backend_factory.h
//   filemon::Writer writer(fd, {});
//   writer.WriteHeader(getpid(), absl::Now());
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &writer);
//   writer.WriteFooter(absl::Now());
//
// Signals: a backend never installs a signal handler or changes any other process-wide state.
// A caller that wants SIGINT/SIGTERM (or any signal) to reach the command passes a
// `RunControl` (run_control.h) and calls `RunControl::Signal()` from its own handler; once the
// command has exited, the signal goes to the processes it left (the run still completes its
// records) and `ExitStatus::signal_after_exit` says so:
//   filemon::RunControl control;             // g_control = &control; handlers installed
//   filemon::TraceOptions options;
//   options.control = &control;
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, options, &writer);
//   // a tool exits 128 + exit->signal_after_exit if it is set, else exit->ShellStatus()

#ifndef FILEMON_CORE_BACKEND_H_
#define FILEMON_CORE_BACKEND_H_

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/run_control.h"

namespace filemon {

class TraceSession;

// A command to start.
struct Command {
  // argv[0] is looked up in PATH when it has no '/', as execvp(3) does. REQUIRES: non-empty.
  std::vector<std::string> argv;
  // The environment ("NAME=value" entries); unset: the caller's environment.
  absl::optional<std::vector<std::string>> env;
  // Working directory of the command; empty: the caller's.
  std::string cwd;
  // The command's standard output and standard error: descriptors of the caller that the
  // backend dup2()s onto 1 and 2 in the command before exec (the caller keeps and closes them);
  // -1: inherited from the caller. The same descriptor for both keeps the order in which they
  // were written. REQUIRES: `stdout_fd` is not 2 and `stderr_fd` is not 1. To capture into a
  // string, see RunCapturingOutput (output_capture.h).
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// For backends, in the forked command before exec (async-signal-safe): applies
// `Command::stdout_fd`/`stderr_fd`. Returns 0 or the errno of the failed dup2().
inline int RedirectCommandOutput(const Command& command);

struct TraceOptions {
  // Resolve every recorded path to an absolute path at the moment of the call, through the
  // process's cwd and dirfd (FreeBSD cannot do this; the default matches FreeBSD).
  bool absolute_paths = false;
  // Record absent-path probes: `N pid path` for an open (without O_CREAT), exec or stat-family
  // lookup that failed because the path does not exist (ENOENT, ENOTDIR); once per process and
  // path (log_format.md, section 7). ptrace, preload and auto record them (preload: not the
  // lookups glibc makes internally, README.md); the kernel device refuses. Off: the log is
  // exactly what it was without the option.
  bool probes = false;
  // Where the caller passes signals to the command (see run_control.h); null: nowhere (the
  // command gets only the signals sent to it directly or to its process group). Must outlive
  // the run; one run at a time per control. `StartSession()` ignores it: there the caller forks
  // the command and signals it itself.
  RunControl* control = nullptr;
};

// How the traced command ended.
struct ExitStatus {
  int code = 0;    // exit code when `signal` == 0
  int signal = 0;  // the signal that killed it, or 0
  // A signal that `TraceOptions::control` passed on to the processes left after the command had
  // exited (the first one; 0: none). The run was interrupted: a tool exits 128 + it.
  int signal_after_exit = 0;
  // The shell's convention: `code`, or 128 + `signal`.
  int ShellStatus() const { return signal != 0 ? 128 + signal : code; }
};

// `Run` may be called from any number of threads at once, on one instance or several (a run's
// state lives in the run, not in the backend object). See `Run` for what the calling process
// must leave alone meanwhile.
class Backend {
 public:
  virtual ~Backend() = default;

  // "ptrace", "preload", "kernel".
  virtual absl::string_view name() const = 0;

  // Starts `command`, streams the records of it and all its descendants into `sink` (records
  // only: the caller writes the header and footer), and returns once every traced process has
  // exited (orphans and daemons included). Errors are the tracer's own (cannot start the
  // command, backend failure), never the command's exit status. Installs no signal handler
  // (signals reach the command through `TraceOptions::control`).
  //
  // Never waits for a process the caller started itself: the caller may fork and reap its own
  // children meanwhile with waitpid(PID) (ptrace traces from a thread of its own and waits only
  // for that thread's children and tracees). It must not call wait(), waitpid(-1) or
  // waitid(P_ALL) in any thread while a run is in progress: Linux lets any thread of a process
  // collect the exit of another thread's child and the ptrace stops of its tracees, and a stop
  // collected elsewhere hangs the traced process. Such callers use `StartSession()`, whose
  // tracer is another process.
  virtual absl::StatusOr<ExitStatus> Run(const Command& command, const TraceOptions& options,
                                         RecordSink* sink) = 0;

  // Starts a session for a caller that forks the command itself (bmake's filemon API). See
  // `TraceSession`. Backends that cannot trace a foreign child return Unimplemented.
  virtual absl::StatusOr<std::unique_ptr<TraceSession>> StartSession(const TraceOptions& options);
};

// The fork-it-yourself protocol, for callers that fork and reap the command themselves:
//
//   absl::StatusOr<std::unique_ptr<filemon::TraceSession>> session =
//       backend->StartSession({});        // 1. parent, before fork(): starts the tracer
//   pid_t pid = fork();
//   if (pid == 0) {
//     if ((*session)->PrepareChild() != 0) _exit(126);  // 2. child: blocks until traced
//     execv(path, argv);
//     _exit(127);
//   }
//   (*session)->SetChild(pid);           // 3. parent: closes the child's ends of the pipes
//   while (!done) {                      // 4. parent: its own loop, its own waitpid(pid)
//     poll((*session)->ReadFd(), ...);   //    readable once the tracer is done
//     done = *(*session)->Process(&writer);  // records so far; `true` when all are in
//   }
//   (*session)->Finish(&writer);         // 5. blocks until the traced tree is done
//
// Contract:
// - The tracer is not the caller's thread nor its child: the caller keeps reaping its own child
//   with waitpid() (even waitpid(-1)) and never sees the tracer or a ptrace stop.
// - `PrepareChild()` runs in the forked child before exec. It is async-signal-safe and allocates
//   nothing. It installs what the backend needs (ptrace: names the tracer for Yama with
//   prctl(PR_SET_PTRACER), waits until the tracer has attached, then installs the seccomp
//   filter, setting no_new_privs first if unprivileged). Returns 0, or an errno value (the child
//   should _exit then).
// - Records of the child and all its descendants (orphans included) reach `sink` through
//   `Process()` (what is ready now, never blocks) and `Finish()` (everything, blocks until every
//   traced process has exited). Records only: the caller writes the header and footer.
// - One child per session. Destroying a session before `Finish()` kills the traced tree.
// - ptrace: the tracer process is forked from the caller in `StartSession()` (then detached by
//   a double fork; it closes the caller's descriptors). A caller that is a child subreaper
//   (PR_SET_CHILD_SUBREAPER) would inherit it as a child.
// - preload, auto: one supervisor thread per process serves every session (every signal
//   blocked, no process created; made by the first session, kept until exit; a forked child
//   of the caller makes its own, and its `SetChild()`/`Process()`/`Finish()` of a session it
//   inherited fail with FailedPrecondition, its `ReadFd()` with -1 and errno EPERM);
//   `PrepareChild()` points the child's `environ` at the session's environment, and after vfork()
//   the caller's memory is as it was once `SetChild()` has run. Records of concurrent sessions
//   never mix (a pipe and a log each).
class TraceSession {
 public:
  virtual ~TraceSession() = default;

  // In the child, between fork() and exec. Async-signal-safe; returns 0 or an errno value.
  virtual int PrepareChild() const = 0;

  // In the parent, after fork(): the child's pid (or -1 if fork failed, which ends the session).
  virtual absl::Status SetChild(int pid) = 0;

  // A descriptor that polls readable at the latest when the traced tree is done (so that an
  // event loop can wait for it next to its own descriptors); -1 if the backend has nothing to
  // poll, or could not make it (preload, auto: it is made at the first call, and `errno` then
  // says why, e.g. EMFILE): the caller then calls `Process()` on its own schedule. `Process()`
  // may deliver records before that (ptrace: in batches of the tracer's 64 KiB buffer).
  virtual int ReadFd() const = 0;

  // Moves the records available now into `sink`. Returns true once the traced tree is done and
  // every record has been delivered, false if more may follow.
  virtual absl::StatusOr<bool> Process(RecordSink* sink) = 0;

  // Blocks until the traced tree is done and delivers the remaining records into `sink`.
  virtual absl::Status Finish(RecordSink* sink) = 0;
};

inline int RedirectCommandOutput(const Command& command) {
  if (command.stdout_fd >= 0 && command.stdout_fd != 1 && dup2(command.stdout_fd, 1) < 0) {
    return errno;
  }
  if (command.stderr_fd >= 0 && command.stderr_fd != 2 && dup2(command.stderr_fd, 2) < 0) {
    return errno;
  }
  return 0;
}

inline absl::StatusOr<std::unique_ptr<TraceSession>> Backend::StartSession(
    const TraceOptions& options) {
  return absl::UnimplementedError(
      absl::StrCat("backend ", name(), " cannot trace a child that the caller forks"));
}

}  // namespace filemon

#endif  // FILEMON_CORE_BACKEND_H_
