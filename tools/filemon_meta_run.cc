// `filemon-meta run`: run commands under a tracing backend and write their .meta in bmake's
// layout. The only part of filemon-meta that uses a backend.

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/core/backend.h"
#include "filemon/core/record_sink.h"
#include "filemon/meta/meta_writer.h"
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

// Sends this process's stdout and stderr (inherited by the traced commands) into a pipe while
// alive, copying what comes through to the original stdout and into `text()`.
class OutputCapture {
 public:
  absl::Status Start() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2()");
    read_fd_ = fds[0];
    std::fflush(stdout);
    std::fflush(stderr);
    saved_out_ = fcntl(1, F_DUPFD_CLOEXEC, 3);
    saved_err_ = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (saved_out_ < 0 || saved_err_ < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0) {
      const int e = errno;
      close(fds[1]);
      return absl::ErrnoToStatus(e, "dup2(stdout/stderr)");
    }
    close(fds[1]);
    reader_ = std::thread([this] {
      char buf[1 << 14];
      while (true) {
        const ssize_t n = read(read_fd_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text_.append(buf, n);
        for (ssize_t done = 0; done < n;) {
          const ssize_t w = write(saved_out_, buf + done, n - done);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) break;
          done += w;
        }
      }
    });
    return absl::OkStatus();
  }

  // Restores stdout/stderr and waits for the commands' last output.
  void Stop() {
    if (saved_out_ < 0) return;
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_out_, 1);  // drops our write ends of the pipe: the reader sees EOF
    dup2(saved_err_, 2);
    if (reader_.joinable()) reader_.join();  // it copies to saved_out_: close that after
    close(saved_out_);
    close(saved_err_);
    saved_out_ = saved_err_ = -1;
    close(read_fd_);
  }

  ~OutputCapture() { Stop(); }
  const std::string& text() const { return text_; }

 private:
  int read_fd_ = -1, saved_out_ = -1, saved_err_ = -1;
  std::thread reader_;
  std::string text_;
};

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

}  // namespace

int RunRun(int argc, char** argv) {
  std::string meta_path, target, backend_name = "auto", cwd, error;
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
  filemon::meta::MetaHeader header;
  header.meta_path = meta_path;
  header.cwd = cwd;
  header.target = target;
  std::vector<filemon::Command> commands;
  if (!shell_commands.empty()) {
    for (const std::string& text : shell_commands) {
      header.commands.push_back(text);
      filemon::Command c;
      c.argv = {"/bin/sh", "-c", text};
      c.cwd = cwd;
      commands.push_back(std::move(c));
    }
  } else {
    std::vector<std::string> words;
    for (const std::string& a : argv_command) words.push_back(ShellWord(a));
    header.commands.push_back(absl::StrJoin(words, " "));
    filemon::Command c;
    c.argv = argv_command;
    c.cwd = cwd;
    commands.push_back(std::move(c));
  }

  filemon::meta::MetaLogBuffer log;
  filemon::AddHeader(getpid(), absl::Now(), &log);
  absl::optional<filemon::meta::MetaError> failure;
  absl::Status trace_error;
  {
    OutputCapture capture;
    absl::Status started = capture.Start();
    if (!started.ok()) return RunFailure(kRunCannotTrace, started.message());
    for (const filemon::Command& c : commands) {
      absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(c, {}, &log);
      if (!exit.ok()) {
        trace_error = exit.status();
        break;
      }
      if (exit->ShellStatus() != 0) {
        failure = filemon::meta::MetaError{exit->ShellStatus(), false};
        break;
      }
    }
    capture.Stop();
    filemon::AddFooter(absl::Now(), &log);
    if (!trace_error.ok()) return RunFailure(kRunCannotTrace, trace_error.message());
    const absl::Status written = filemon::meta::WriteMetaFile(
        meta_path, filemon::meta::FormatMeta(header, capture.text(), failure, &log.text()));
    if (!written.ok()) return RunFailure(kRunCannotWrite, written.message());
  }
  return failure.has_value() ? failure->code : 0;
}

}  // namespace filemon_meta_tool
