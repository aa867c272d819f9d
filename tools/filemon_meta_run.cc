// `filemon-meta run`: run commands under a tracing backend and write their .meta in bmake's
// layout (filemon/meta/run_and_record.h). The only part of filemon-meta that uses a backend.

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/core/backend.h"
#include "filemon/core/run_control.h"
#include "filemon/core/signal_passing.h"
#include "filemon/meta/run_and_record.h"
#include "tools/filemon_meta_commands.h"

namespace filemon_meta_tool {
namespace {

// A word as sh(1) reads it back: bare if it is made of safe characters, else single-quoted.
std::string ShellWord(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-+=/.,:@%") == std::string::npos) {
    return word;
  }
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

// `run` follows `filemon`'s exit-status convention (the command's own status, or one of these),
// so that a make's own exit 2 is not mistaken for a tracing failure.
constexpr int kRunUsage = 125;        // bad options
constexpr int kRunCannotTrace = 126;  // backend unavailable, command cannot start
constexpr int kRunCannotWrite = 127;  // the .meta cannot be written

int RunUsage(absl::string_view message) {
  UsageError(message);
  return kRunUsage;
}

int RunFailure(int status, absl::string_view message) {
  std::fprintf(stderr, "filemon-meta: run: %s\n", std::string(message).c_str());
  return status;
}

// RunAndRecord with SIGINT/SIGTERM/SIGHUP/SIGQUIT passed on to the command running, and once
// it has exited to what it left (the library installs no handler: the tool does, for the run
// only). A signal received interrupts the run (RunAndRecordOptions::interrupted).
absl::StatusOr<filemon::meta::RunAndRecordResult> RunPassingSignals(
    filemon::Backend& backend, filemon::meta::RunAndRecordOptions options) {
  filemon::RunControl control;
  options.trace.control = &control;
  filemon::ScopedSignalPassing passing(&control);
  options.interrupted = [&passing] { return passing.received(); };
  return filemon::meta::RunAndRecord(backend, options);
}

// Ends the process by `signal`, as interrupted bmake does (CompatInterrupt): the shell or make
// that started it sees the signal, and stops too. SIGQUIT is not raised (its default action
// dumps core): that exits 128 + 3, as does a signal that could not end the process.
int DieOf(int signal) {
  std::fflush(nullptr);
  if (signal != SIGQUIT) {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    sigaction(signal, &action, nullptr);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(signal);
  }
  return 128 + signal;
}

}  // namespace

int RunRun(int argc, char** argv) {
  std::string meta_path, target, backend_name = "auto", cwd, error;
  bool probes = false;  // TraceOptions::probes
  std::vector<std::string> shell_commands, argv_command;
  for (int i = 0; i < argc && error.empty(); ++i) {
    const absl::string_view arg = argv[i];
    std::string v;
    if (arg == "--") {
      for (++i; i < argc; ++i) argv_command.emplace_back(argv[i]);
    } else if (FlagValue(argc, argv, &i, "--meta", &meta_path, &error) ||
               FlagValue(argc, argv, &i, "--target", &target, &error) ||
               FlagValue(argc, argv, &i, "--backend", &backend_name, &error) ||
               FlagValue(argc, argv, &i, "--cwd", &cwd, &error)) {
    } else if (arg == "--probes") {
      probes = true;
    } else if (FlagValue(argc, argv, &i, "--cmd", &v, &error)) {
      shell_commands.push_back(v);
    } else {
      error = absl::StrCat("run: unexpected argument '", arg, "' (the command goes after --)");
    }
  }
  if (!error.empty()) return RunUsage(error);
  if (meta_path.empty() || target.empty()) return RunUsage("run: needs --meta and --target");
  if (shell_commands.empty() == argv_command.empty()) {
    return RunUsage("run: give either --cmd TEXT... or -- COMMAND...");
  }
  char buf[PATH_MAX];
  if (cwd.empty()) {
    if (getcwd(buf, sizeof buf) == nullptr) return RunUsage("run: getcwd() failed");
    cwd = buf;
  }
  if (realpath(cwd.c_str(), buf) == nullptr) {
    return RunUsage(absl::StrCat("run: --cwd ", cwd, ": ", std::strerror(errno)));
  }
  cwd = buf;
  if (meta_path[0] != '/') {
    char here[PATH_MAX];
    if (getcwd(here, sizeof here) != nullptr) meta_path = absl::StrCat(here, "/", meta_path);
  }

  absl::StatusOr<std::unique_ptr<filemon::Backend>> backend = filemon::MakeBackend(backend_name);
  if (!backend.ok()) {
    const std::string message =
        absl::StrCat("backend '", backend_name, "': ", backend.status().message());
    return absl::IsInvalidArgument(backend.status()) ? RunUsage(message)
                                                     : RunFailure(kRunCannotTrace, message);
  }

  // bmake runs each command with `sh -c`; a COMMAND after -- runs as given and is recorded as
  // the shell would read it back.
  filemon::meta::RunAndRecordOptions options;
  options.meta_path = meta_path;
  options.target = target;
  options.cwd = cwd;
  options.passthrough_fd = 1;
  options.trace.probes = probes;
  for (const std::string& text : shell_commands) options.commands.push_back({text, {}});
  if (!argv_command.empty()) {
    std::vector<std::string> words;
    for (const std::string& a : argv_command) words.push_back(ShellWord(a));
    options.commands.push_back({absl::StrJoin(words, " "), argv_command});
  }
  absl::StatusOr<filemon::meta::RunAndRecordResult> result = RunPassingSignals(**backend, options);
  if (!result.ok()) {
    const bool trace = absl::StartsWith(result.status().message(), "cannot trace");
    return RunFailure(trace ? kRunCannotTrace : kRunCannotWrite, result.status().message());
  }
  if (result->interrupted != 0) return DieOf(result->interrupted);
  if (result->exit.signal_after_exit != 0) return 128 + result->exit.signal_after_exit;
  return result->failed ? result->exit.ShellStatus() : 0;
}

}  // namespace filemon_meta_tool
