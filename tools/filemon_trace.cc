// `filemon [options] [--] COMMAND [ARGS...]`: trace COMMAND with a backend and write the log.
// Flags in, library calls, exit status out.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/core/backend.h"
#include "filemon/core/proto_convert.h"
#include "filemon/core/proto_sink.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/run_control.h"
#include "filemon/core/signal_passing.h"
#include "filemon/core/timed_flush_sink.h"
#include "filemon/core/writer.h"
#include "tools/filemon_commands.h"
#include "tools/flags.h"

namespace filemon_tool {
namespace {

constexpr char kUsage[] =
    "usage: filemon [--backend=ptrace|preload|ebpf|kernel|auto] [-o FILE] [--format=filemon|json]\n"
    "               [--absolute] [--probes] [--] COMMAND [ARGS...]\n"
    "       filemon parse [--format=filemon|json] [--strict|--lenient] FILE|-\n"
    "\n"
    "Runs COMMAND and records which files it and all its descendants read, write, execute,\n"
    "rename, link and delete, in the log format of FreeBSD's filemon(4) (version 5). Only\n"
    "successful calls are recorded (and, with --probes, lookups of absent paths). filemon\n"
    "waits until every traced process has exited, orphans and daemons included, then writes\n"
    "the footer.\n"
    "\n"
    "Options:\n"
    "  --backend=NAME    how to trace (default: auto):\n"
    "                      ptrace   ptrace + seccomp-bpf; Linux, no privileges needed, sees\n"
    "                               static binaries; set-id programs lose their privilege\n"
    "                      preload  LD_PRELOAD interposer; dynamically linked programs, lowest\n"
    "                               cost; the own operations of a static, 32-bit or Go\n"
    "                               program are missing, and those of a set-id program and\n"
    "                               all it starts (the log says so); set-id programs keep\n"
    "                               their privilege\n"
    "                      ebpf     a BPF program in the kernel; Linux 5.17+ on x86-64 with\n"
    "                               BTF, root (or CAP_BPF and CAP_PERFMON); sees everything,\n"
    "                               set-id programs keep their privilege, lowest cost; a\n"
    "                               full ring buffer is reported (# filemon: lost N records,\n"
    "                               exit 126)\n"
    "                      kernel   the filemon(4) device /dev/filemon (FreeBSD/NetBSD only)\n"
    "                      auto     the kernel device where filemon(4) exists; else ebpf\n"
    "                               as root where the kernel lets it (the log says so);\n"
    "                               else preload, and ptrace for programs the interposer\n"
    "                               cannot enter (static, 32-bit, Go): the whole run if the\n"
    "                               command is one, else from the exec of such a program\n"
    "                               on; set-id programs stay under preload (README.md)\n"
    "  -o FILE           write the log to FILE (default: filemon.out); -o - writes to standard\n"
    "                    output (mixed with the command's own output)\n"
    "  --format=FORMAT   filemon: the FreeBSD text log (default); json: the same records as\n"
    "                    one JSON object (filemon/core/filemon.proto)\n"
    "  --absolute        resolve every path to an absolute one at the moment of the call,\n"
    "                    through the process's working directory and directory fds (FreeBSD\n"
    "                    logs paths as passed; symlink contents are never rewritten)\n"
    "  --probes          also record the lookups that failed because the path does not exist\n"
    "                    (N lines: open without O_CREAT, exec, stat/access/readlink failing\n"
    "                    with ENOENT or ENOTDIR), so that `filemon-meta check --probes` sees a\n"
    "                    file that appeared since. ptrace, preload, ebpf and auto (preload\n"
    "                    misses the lookups glibc makes internally); kernel cannot\n"
    "  --help            this text\n"
    "  --                end of options: everything after it is the command\n"
    "\n"
    "Log lines (pid is the process id; threads are folded into their process):\n"
    "  # filemon version 5 / # Target pid N / # Start S.U   header (N: the tracer's pid)\n"
    "  V 5               format version\n"
    "  E pid path        pid executed path (absolute, as FreeBSD resolves it)\n"
    "  F pid child       pid created process child (fork, vfork, clone, posix_spawn)\n"
    "  R pid path        opened path for reading (O_RDWR gives R then W)\n"
    "  W pid path        opened path for writing (open, openat, openat2, creat)\n"
    "  A pid path        the next R/W came from openat with a directory fd and this relative\n"
    "                    path; the R/W line carries the directory's absolute path as prefix\n"
    "  C pid path        changed directory (chdir: path as passed; fchdir: the resolved path)\n"
    "  D pid path        deleted path (unlink, unlinkat, rmdir)\n"
    "  M pid 'from' 'to' renamed (rename, renameat, renameat2)\n"
    "  L pid 'from' 'to' linked (link, linkat); for symlink/symlinkat 'from' is the link's\n"
    "                    contents and 'to' the new link\n"
    "  X pid code signal exited with code, or was killed by signal (code 0)\n"
    "  N pid path        (--probes only; not FreeBSD's) a lookup of path found nothing;\n"
    "                    once per process and path, with the path rules of R\n"
    "  # ...             a comment: tracer notes (e.g. a set-id program that ran without its\n"
    "                    privilege, a tracee whose own ptrace failed), then the footer\n"
    "  # Stop S.U / # Bye bye   footer\n"
    "Paths are as the process passed them; a relative path used with a directory fd (openat,\n"
    "renameat, linkat, symlinkat, unlinkat, execveat) gets the directory as prefix.\n"
    "\n"
    "Every option that takes a value may be written --name=VALUE or --name VALUE.\n"
    "\n"
    "The text log is written as it goes, at most 100 ms behind, so a killed filemon leaves\n"
    "all but its last moment (--format=json is written at the end). SIGINT, SIGTERM, SIGHUP\n"
    "and SIGQUIT sent to filemon are passed on to the command (a terminal's, which reaches\n"
    "the command too, is not passed twice) and, once it has exited, to what it left running;\n"
    "filemon waits for them and completes the log.\n"
    "\n"
    "Exit status: the command's own (128+N if signal N killed it), or filemon's own failure:\n"
    "  125  usage: an unknown option or backend name, a missing value, no command\n"
    "  126  cannot trace: the backend is unavailable here, or the command cannot start\n"
    "  127  cannot write the log: a full disk or a reader that closed the pipe of -o -\n"
    "       (the command still runs to its end), or a log that cannot be created (the\n"
    "       command is not started); the message says why\n"
    "filemon parse --help explains parse and its own exit statuses.\n";

int Usage(const char* message) {
  std::fprintf(stderr, "filemon: %s\n(filemon --help explains the options)\n", message);
  return kExitUsage;
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write(log)");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// The collected log as one JSON object. Running out of memory (the sink's status, or in the
// conversion) is a failure to write the log, not an abort.
absl::Status WriteJson(filemon::LogProtoSink* sink, int fd) {
  if (!sink->status().ok()) return sink->status();
  try {
    absl::StatusOr<std::string> text = filemon::LogToJson(sink->TakeLog(), /*pretty=*/true);
    if (!text.ok()) return text.status();
    text->push_back('\n');
    return WriteAll(fd, *text);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory writing the log as JSON");
  }
}

// What the command line asks for.
struct TraceArgs {
  std::string backend_name = "auto";
  std::string output = "filemon.out";
  bool json = false;
  filemon::TraceOptions options;
  filemon::Command command;
};

// Fills `*args` from the command line (every option as `--name VALUE` or `--name=VALUE`).
// Returns -1 to go on, or the exit status to return now (0 after --help, kExitUsage).
int ParseTraceArgs(int argc, char** argv, TraceArgs* args) {
  int i = 1;
  std::string error, format;
  for (; i < argc && error.empty(); ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (filemon_tools::FlagValue(argc, argv, &i, "--backend", &args->backend_name, &error) ||
        filemon_tools::FlagValue(argc, argv, &i, "--output", &args->output, &error) ||
        filemon_tools::FlagValue(argc, argv, &i, "-o", &args->output, &error)) {
    } else if (filemon_tools::FlagValue(argc, argv, &i, "--format", &format, &error)) {
      if (error.empty() && format != "filemon" && format != "json") {
        error = "--format is filemon or json";
      }
      args->json = format == "json";
    } else if (arg == "--absolute") {
      args->options.absolute_paths = true;
    } else if (arg == "--probes") {
      args->options.probes = true;
    } else if (absl::StartsWith(arg, "-") && arg != "-") {
      error = "unknown option " + std::string(arg);
    } else {
      break;
    }
  }
  if (!error.empty()) return Usage(error.c_str());
  if (i >= argc) return Usage("no command given");
  for (; i < argc; ++i) args->command.argv.push_back(argv[i]);
  return -1;
}

// A log written into a pipe whose reader went away (`filemon -o - ... | head -1`) must fail
// like a full disk (the writer keeps EPIPE, the command runs on, exit kExitLogError) instead of
// killing filemon. A handler rather than SIG_IGN: exec resets a handled signal to its default,
// so the traced programs still get SIGPIPE as they would untraced.
void SurviveBrokenPipe() {
  struct sigaction action = {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  sigaction(SIGPIPE, &action, nullptr);
}

// Runs `command` with SIGINT/SIGTERM/SIGHUP/SIGQUIT passed on to it, and once it has exited to
// the processes it left (the library installs no handler: the tool does, for the run only).
absl::StatusOr<filemon::ExitStatus> RunPassingSignals(filemon::Backend* backend,
                                                      const filemon::Command& command,
                                                      filemon::TraceOptions options,
                                                      filemon::RecordSink* sink) {
  filemon::RunControl control;
  options.control = &control;
  filemon::ScopedSignalPassing passing(&control);
  return backend->Run(command, options, sink);
}

// The command's status; 128+N if signal N interrupted what the command left running.
int ExitCode(const filemon::ExitStatus& exit) {
  return exit.signal_after_exit != 0 ? 128 + exit.signal_after_exit : exit.ShellStatus();
}

}  // namespace

int RunTrace(int argc, char** argv) {
  TraceArgs args;
  if (const int status = ParseTraceArgs(argc, argv, &args); status >= 0) return status;
  const std::string& output = args.output;
  const bool json = args.json;
  const filemon::Command& command = args.command;
  const filemon::TraceOptions& options = args.options;

  absl::StatusOr<std::unique_ptr<filemon::Backend>> backend =
      filemon::MakeBackend(args.backend_name);
  if (!backend.ok()) {
    // An unknown name is a usage error; a known backend this host cannot provide is not.
    if (absl::IsInvalidArgument(backend.status())) {
      return Usage(std::string(backend.status().message()).c_str());
    }
    std::fprintf(stderr, "filemon: %s\n", std::string(backend.status().message()).c_str());
    return kExitTracerError;
  }
  SurviveBrokenPipe();
  int fd = 1;
  if (output != "-") {
    fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
      std::fprintf(stderr, "filemon: cannot open the log %s: %s\n", output.c_str(),
                   std::strerror(errno));
      return kExitLogError;
    }
  }
  filemon::WriterOptions writer_options;
  writer_options.own_fd = fd != 1;
  filemon::Writer writer(fd, writer_options);
  // A killed filemon (SIGKILL) leaves a log with its header and all but the last ~100 ms of
  // records. JSON is one object, written at the end.
  filemon::TimedFlushSink timed(&writer, {});
  filemon::LogProtoSink proto_sink;
  filemon::RecordSink* sink = json ? static_cast<filemon::RecordSink*>(&proto_sink) : &timed;

  // The header at once (an error stays in the writer), straight into the writer: the timer's
  // thread starts with the run's first record, after the backend forked its helpers.
  filemon::RecordSink* header_sink = json ? sink : &writer;
  filemon::AddHeader(getpid(), absl::Now(), header_sink);
  header_sink->Flush().IgnoreError();
  absl::StatusOr<filemon::ExitStatus> exit =
      RunPassingSignals(backend->get(), command, options, sink);
  if (!exit.ok()) {
    std::string note = " filemon: " + exit.status().ToString();
    sink->Add(filemon::Record::Comment(note));
  }
  filemon::AddFooter(absl::Now(), sink);
  timed.Stop();
  absl::Status log_status;
  if (json) log_status = WriteJson(&proto_sink, fd);
  absl::Status closed = writer.Close();
  if (log_status.ok()) log_status = closed;

  if (!exit.ok()) {
    std::fprintf(stderr, "filemon: %s\n", std::string(exit.status().message()).c_str());
    return kExitTracerError;
  }
  if (!log_status.ok()) {
    std::fprintf(stderr, "filemon: cannot write the log %s: %s\n", output.c_str(),
                 std::string(log_status.message()).c_str());
    return kExitLogError;
  }
  return ExitCode(*exit);
}

}  // namespace filemon_tool
