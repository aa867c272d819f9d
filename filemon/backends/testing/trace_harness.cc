#include "filemon/backends/testing/trace_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "filemon/backends/backend_factory.h"
#include "filemon/core/parser.h"
#include "filemon/core/test_child.h"
#include "filemon/core/tree_order.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace testing_internal {

OwnedRecord OwnedRecord::From(const Record& record) {
  OwnedRecord r;
  r.kind = record.kind;
  r.pid = record.pid;
  r.child_pid = record.child_pid;
  r.status = record.status;
  r.signal = record.signal;
  r.path = std::string(record.path);
  r.path2 = std::string(record.path2);
  return r;
}

std::string OwnedRecord::ToString() const {
  char letter = RecordLetter(kind);
  switch (kind) {
    case RecordKind::kFork:
      return absl::StrCat("F ", pid, " ", child_pid);
    case RecordKind::kExit:
      return absl::StrCat("X ", pid, " ", status, " ", signal);
    case RecordKind::kLink:
    case RecordKind::kMove:
      return absl::StrCat(std::string(1, letter), " ", pid, " '", path, "' '", path2, "'");
    default:
      if (letter == '#') return absl::StrCat("#", path);
      return absl::StrCat(std::string(1, letter), " ", pid, " ", path);
  }
}

int TraceResult::Count(RecordKind kind, absl::string_view path) const {
  int n = 0;
  for (const OwnedRecord& r : records) n += r.kind == kind && r.path == path;
  return n;
}

bool TraceResult::HasTwo(RecordKind kind, absl::string_view from, absl::string_view to) const {
  for (const OwnedRecord& r : records) {
    if (r.kind == kind && r.path == from && r.path2 == to) return true;
  }
  return false;
}

std::vector<const OwnedRecord*> TraceResult::Of(RecordKind kind) const {
  std::vector<const OwnedRecord*> out;
  for (const OwnedRecord& r : records) {
    if (r.kind == kind) out.push_back(&r);
  }
  return out;
}

std::vector<int64_t> TraceResult::Pids() const {
  std::vector<int64_t> pids;
  for (const OwnedRecord& r : records) {
    if (r.kind != RecordKind::kComment) pids.push_back(r.pid);
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

namespace {

// The (backend, test) pairs whose logs break the kernel's order today, with the reason: where a
// new test meets a bug another change will fix, it lands listed here so that main stays green,
// and the fix deletes its entry. A test is named without its suite or parameter index (TEST_P's
// "Case/1" is "Case"), e.g. {"preload", "OrderDaemon", "preload: the child writes its own F
// (issue 18)"}. The preload backend's order cases of issue 18 pass since its rework.
struct KnownOrderBugEntry {
  const char* backend;
  const char* test;
  const char* reason;
};
constexpr std::array<KnownOrderBugEntry, 0> kKnownOrderBugs{};

}  // namespace

const char* KnownOrderBug(absl::string_view backend) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test == nullptr) return nullptr;
  const absl::string_view name =
      absl::string_view(test->name()).substr(0, absl::string_view(test->name()).find('/'));
  for (const KnownOrderBugEntry& bug : kKnownOrderBugs) {
    if (backend == bug.backend && name == bug.test) return bug.reason;
  }
  return nullptr;
}

namespace {

// Formats every record as its log line.
struct LogTextSink : RecordSink {
  void Add(const Record& record) override { AppendRecord(record, &text); }
  std::string text;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> MakeTestBackend(absl::string_view name) {
  if (name == kAutoWithoutEbpf) return MakeAutoBackend({AutoEbpf::kNever});
  return MakeBackend(name);
}

absl::StatusOr<TraceResult> TraceCommand(absl::string_view backend_name, const Command& command,
                                         const TraceOptions& options) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeTestBackend(backend_name);
  if (!backend.ok()) return backend.status();
  // The records go through the real log text and back: what the tests see is what a reader of
  // the log would parse.
  LogTextSink sink;
  absl::StatusOr<ExitStatus> exit = (*backend)->Run(command, options, &sink);
  if (!exit.ok()) return exit.status();
  TraceResult result;
  result.exit = *exit;
  result.log = std::move(sink.text);
  Parser parser(result.log, {});
  // The log of one command: its first record's pid is the only root (tree_order.h).
  TreeOrderOptions order_options;
  order_options.roots = TreeRoots::kFirstOnly;
  TreeOrderChecker order(order_options);
  Record record;
  while (parser.Next(&record)) {
    order.Add(record, parser.line());
    result.records.push_back(OwnedRecord::From(record));
  }
  if (!parser.ok()) {
    return absl::InternalError(absl::StrCat(
        "the backend's log does not parse: ", parser.status().ToString(), "\n", result.log));
  }
  if (!order.ok() && KnownOrderBug(backend_name) == nullptr) {
    return absl::InternalError(absl::StrCat("the backend's log is out of the kernel's order: line ",
                                            order.status().message(), "\n", result.log));
  }
  return result;
}

std::string HostRefusal(absl::string_view backend_name) {
  static std::mutex mu;
  static std::map<std::string, std::string, std::less<>> known;
  std::lock_guard<std::mutex> lock(mu);
  auto it = known.find(backend_name);
  if (it != known.end()) return it->second;
  absl::StatusOr<std::unique_ptr<Backend>> backend = MakeTestBackend(backend_name);
  absl::Status status = backend.status();
  if (backend.ok()) {
    CollectingSink sink;
    Command command;
    command.argv = {"/bin/true"};
    status = (*backend)->Run(command, {}, &sink).status();
  }
  std::string refusal = absl::IsUnavailable(status) ? status.ToString() : "";
  known.emplace(std::string(backend_name), refusal);
  return refusal;
}

std::string Difference(const std::map<std::string, int>& a, const std::map<std::string, int>& b) {
  std::vector<std::string> lines;
  for (const auto& [key, n] : a) {
    auto it = b.find(key);
    const int m = it == b.end() ? 0 : it->second;
    if (n > m) lines.push_back(absl::StrCat(key, " x", n - m));
  }
  return absl::StrJoin(lines, "\n");
}

std::string ProblemOfARun(Backend* backend, const Command& command, const std::string& output,
                          bool own_write_expected) {
  CollectingSink sink;
  absl::StatusOr<ExitStatus> exit = backend->Run(command, {}, &sink);
  if (!exit.ok()) return exit.status().ToString();
  if (exit->ShellStatus() != 0) return absl::StrCat("exit status ", exit->ShellStatus());
  bool own_write = false;
  for (const OwnedRecord& r : sink.records()) {
    if (r.kind != RecordKind::kWrite) continue;
    if (r.path == output) {
      own_write = true;
    } else if (r.path.find("/out_") != std::string::npos) {
      return absl::StrCat("another run's record: ", r.ToString());
    }
  }
  if (!own_write && own_write_expected) return "no W of its own output";
  return "";
}

Command ShellCommand(absl::string_view script, absl::string_view cwd) {
  Command c;
  c.argv = {"/bin/sh", "-c", std::string(script)};
  c.cwd = std::string(cwd);
  return c;
}

std::string MakeTempDir(absl::string_view name) {
  const char* base = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/", name, "XXXXXX");
  if (mkdtemp(&dir[0]) == nullptr) return "";
  char resolved[PATH_MAX];
  if (realpath(dir.c_str(), resolved) == nullptr) return dir;
  return resolved;
}

std::vector<std::string> OurEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

bool RunsUntraced(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

size_t MostArgumentsThatRun(const std::function<std::vector<std::string>(size_t)>& command,
                            const std::vector<std::string>& env) {
  size_t low = 1, high = 40000;  // runs(low), !runs(high)
  if (!RunsUntraced(command(low), env) || RunsUntraced(command(high), env)) return 0;
  while (high - low > 1) {
    const size_t middle = (low + high) / 2;
    (RunsUntraced(command(middle), env) ? low : high) = middle;
  }
  return low;
}

std::string TestProgram(absl::string_view name) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  std::string path =
      absl::StrCat(srcdir != nullptr ? srcdir : ".", "/", workspace != nullptr ? workspace : "",
                   "/filemon/backends/testing/", name);
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return path;
  return resolved;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

char ProcessState(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const size_t paren = line.rfind(')');  // the name may hold ')' and spaces
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : 0;
}

absl::StatusOr<std::string> MakeSetuidRootId() {
  char dir_template[] = "/tmp/filemon-setuid-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  std::string dir = dir_template;
  std::string program = dir + "/id";
  std::string script = absl::StrCat("cp /usr/bin/id '", program, "' && chmod 4755 '", program,
                                    "' && chmod 755 '", dir, "'");
  if (system(script.c_str()) != 0) return absl::InternalError("cannot run: " + script);
  return program;
}

bool OnPath(absl::string_view program) {
  const char* path = getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

namespace {

// One strace argument: a string ("..."), an fd with its path (3</dir>, AT_FDCWD</dir>), or raw.
struct StraceArg {
  std::string text;  // unescaped string, or the raw token
  bool is_string = false;
  bool is_fd = false;
  bool is_cwd = false;  // AT_FDCWD
  std::string fd_path;
};

std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'x': {
        int v = 0;
        if (i + 2 < s.size() + 0 && absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
          out.push_back(static_cast<char>(v));
          i += 2;
        }
        break;
      }
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::vector<StraceArg> SplitArgs(absl::string_view args) {
  std::vector<StraceArg> out;
  size_t i = 0;
  while (i < args.size()) {
    while (i < args.size() && args[i] == ' ') ++i;
    size_t start = i;
    int depth = 0;
    bool in_string = false;
    for (; i < args.size(); ++i) {
      char c = args[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{' || c == '<') {
        ++depth;
      } else if (c == ']' || c == '}' || c == '>') {
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    absl::string_view token = args.substr(start, i - start);
    ++i;  // the comma
    StraceArg a;
    if (absl::StartsWith(token, "\"")) {
      absl::string_view body = token.substr(1);
      if (absl::EndsWith(body, "...")) body.remove_suffix(3);  // truncated strings
      if (absl::EndsWith(body, "\"")) body.remove_suffix(1);
      a.text = Unescape(body);
      a.is_string = true;
    } else {
      a.text = std::string(token);
      size_t lt = token.find('<');
      if (lt != absl::string_view::npos && absl::EndsWith(token, ">")) {
        a.is_fd = true;
        a.is_cwd = token.substr(0, lt) == "AT_FDCWD";
        a.fd_path = Unescape(token.substr(lt + 1, token.size() - lt - 2));
      } else if (token == "AT_FDCWD") {
        a.is_cwd = true;
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

// The backend's default path rule: prefix a relative path with a real dirfd's directory.
std::string AtPath(const StraceArg& dirfd, const std::string& path) {
  if (path.empty() && dirfd.is_fd) return dirfd.fd_path;
  if (!path.empty() && path[0] == '/') return path;
  if (dirfd.is_fd && !dirfd.is_cwd) {
    absl::string_view p = path;
    while (absl::StartsWith(p, "./")) p.remove_prefix(2);
    if (p == ".") p = absl::string_view();
    if (p.empty()) return dirfd.fd_path;
    return absl::StrCat(dirfd.fd_path == "/" ? "" : dirfd.fd_path, "/", p);
  }
  return path;
}

void AddOpen(int64_t pid, const StraceArg* dirfd, const std::string& path, absl::string_view flags,
             std::vector<OwnedRecord>* out) {
  std::string resolved = dirfd != nullptr ? AtPath(*dirfd, path) : path;
  if (dirfd != nullptr && dirfd->is_fd && !dirfd->is_cwd && !path.empty() && path[0] != '/') {
    out->push_back({RecordKind::kAt, pid, 0, 0, 0, path, ""});
  }
  bool rdwr = absl::StrContains(flags, "O_RDWR");
  bool write = rdwr || absl::StrContains(flags, "O_WRONLY");
  if (rdwr) out->push_back({RecordKind::kRead, pid, 0, 0, 0, resolved, ""});
  out->push_back({write ? RecordKind::kWrite : RecordKind::kRead, pid, 0, 0, 0, resolved, ""});
}

void StraceLineToRecords(int64_t pid, absl::string_view call, std::vector<OwnedRecord>* out) {
  // "name(args) = result", with alignment blanks before the '='.
  size_t paren = call.find('(');
  size_t equals = call.rfind(" = ");
  if (paren == absl::string_view::npos || equals == absl::string_view::npos) return;
  absl::string_view result = call.substr(equals + 3);
  size_t eq = call.find_last_not_of(' ', equals);
  if (eq == absl::string_view::npos || eq < paren || call[eq] != ')') return;
  if (absl::StartsWith(result, "-") || absl::StartsWith(result, "?")) return;  // failed
  absl::string_view name = call.substr(0, paren);
  std::vector<StraceArg> a = SplitArgs(call.substr(paren + 1, eq - paren - 1));
  auto path = [&](size_t i) { return i < a.size() ? a[i].text : std::string(); };
  auto two = [&](RecordKind kind, std::string from, std::string to) {
    out->push_back({kind, pid, 0, 0, 0, std::move(from), std::move(to)});
  };
  auto one = [&](RecordKind kind, std::string p) {
    out->push_back({kind, pid, 0, 0, 0, std::move(p), ""});
  };
  if (name == "open" && a.size() >= 2) {
    AddOpen(pid, nullptr, path(0), a[1].text, out);
  } else if (name == "creat") {
    one(RecordKind::kWrite, path(0));
  } else if ((name == "openat" || name == "openat2") && a.size() >= 3) {
    AddOpen(pid, &a[0], path(1), a[2].text, out);
  } else if (name == "chdir") {
    one(RecordKind::kChdir, path(0));
  } else if (name == "fchdir" && !a.empty() && a[0].is_fd) {
    one(RecordKind::kChdir, a[0].fd_path);
  } else if (name == "rename") {
    two(RecordKind::kMove, path(0), path(1));
  } else if ((name == "renameat" || name == "renameat2") && a.size() >= 4) {
    two(RecordKind::kMove, AtPath(a[0], path(1)), AtPath(a[2], path(3)));
  } else if (name == "link") {
    two(RecordKind::kLink, path(0), path(1));
  } else if (name == "linkat" && a.size() >= 4) {
    two(RecordKind::kLink, AtPath(a[0], path(1)), AtPath(a[2], path(3)));
  } else if (name == "symlink") {
    two(RecordKind::kLink, path(0), path(1));
  } else if (name == "symlinkat" && a.size() >= 3) {
    two(RecordKind::kLink, path(0), AtPath(a[1], path(2)));
  } else if (name == "unlink" || name == "rmdir") {
    one(RecordKind::kDelete, path(0));
  } else if (name == "unlinkat" && a.size() >= 2) {
    one(RecordKind::kDelete, AtPath(a[0], path(1)));
  } else if (name == "execve") {
    one(RecordKind::kExec, path(0));
  } else if (name == "execveat" && a.size() >= 2) {
    one(RecordKind::kExec, AtPath(a[0], path(1)));
  }
}

}  // namespace

absl::StatusOr<std::vector<OwnedRecord>> StraceFileRecords(const Command& command) {
  if (!OnPath("strace")) return absl::UnavailableError("strace is not installed");
  std::string dir = MakeTempDir("strace");
  std::string log = dir + "/strace.out";
  std::vector<std::string> argv = {
      "strace",
      "-f",
      "-qq",
      "-y",
      "-s",
      "4096",
      "-e",
      "signal=none",
      "-e",
      "trace=open,openat,openat2,creat,chdir,fchdir,rename,renameat,renameat2,link,linkat,"
      "symlink,symlinkat,unlink,unlinkat,rmdir,execve,execveat",
      "-o",
      log,
      "--"};
  argv.insert(argv.end(), command.argv.begin(), command.argv.end());
  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    if (!command.cwd.empty() && chdir(command.cwd.c_str()) != 0) _exit(126);
    std::vector<char*> cargv;
    for (std::string& s : argv) cargv.push_back(&s[0]);
    cargv.push_back(nullptr);
    execvp("strace", cargv.data());
    _exit(127);
  }
  int status = 0;
  WaitPid(pid, &status);
  std::ifstream in(log);
  if (!in) return absl::InternalError(absl::StrCat("strace wrote no log (status ", status, ")"));
  std::vector<OwnedRecord> records;
  std::map<int64_t, std::string> unfinished;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    size_t space = rest.find(' ');
    int64_t line_pid = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, space), &line_pid)) {
      continue;
    }
    rest.remove_prefix(space + 1);
    rest = absl::StripLeadingAsciiWhitespace(rest);
    std::string call;
    if (absl::ConsumeSuffix(&rest, " <unfinished ...>")) {
      unfinished[line_pid] = std::string(rest);
      continue;
    }
    if (absl::StartsWith(rest, "<... ")) {
      size_t resumed = rest.find("resumed>");
      if (resumed == absl::string_view::npos) continue;
      call = absl::StrCat(unfinished[line_pid], rest.substr(resumed + 8));
      unfinished.erase(line_pid);
    } else {
      call = std::string(rest);
    }
    StraceLineToRecords(line_pid, call, &records);
  }
  return records;
}

}  // namespace testing_internal
}  // namespace filemon
