#include "filemon/meta/check_state.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace filemon {
namespace meta {
namespace internal {
namespace {

// `${LIST:O:u:tA}`.
std::vector<std::string> SortUniqueRealpaths(std::vector<std::string> words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  for (std::string& w : words) w = RealpathOrSelf(w);
  return words;
}

// IGNORE_PATHS as bmake builds it: the makefile's, then its defaults (or the caller's
// replacement for them).
std::vector<std::string> IgnorePaths(const CheckOptions& options) {
  std::vector<std::string> ignore = options.ignore_paths;
  if (options.default_ignore_paths.has_value()) {
    ignore.insert(ignore.end(), options.default_ignore_paths->begin(),
                  options.default_ignore_paths->end());
    return ignore;
  }
  for (const char* d : {"/dev", "/etc", "/proc", "/tmp", "/var/run", "/var/tmp"}) {
    ignore.push_back(d);
  }
  for (absl::string_view w :
       absl::StrSplit(options.tmpdir_env, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    ignore.emplace_back(w);
  }
  return ignore;
}

// bmake's getTmpdir(): "${TMPDIR:tA:U/tmp/}/" if that is a directory, else "/tmp/".
std::string Tmpdir(const std::string& tmpdir_env) {
  std::string tmpdir =
      (tmpdir_env.empty() ? std::string("/tmp/") : RealpathOrSelf(tmpdir_env)) + "/";
  struct stat st;
  if (stat(tmpdir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "/tmp/";
  return tmpdir;
}

// `text` parsed as a filter list; `name` says which in an error.
absl::Status ParseFilter(const std::string& text, absl::string_view name,
                         absl::optional<ModifierChain>* out) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<ModifierChain> chain = ModifierChain::ParseFilter(text);
  if (!chain.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", chain.status().message()));
  }
  *out = std::move(*chain);
  return absl::OkStatus();
}

// Fills `options.cwd` (when empty), `state->cwd` and `state->cwd_fd`.
absl::Status ResolveCwd(CheckOptions* options, CheckState* state) {
  char buf[PATH_MAX];
  if (options->cwd.empty()) {
    if (getcwd(buf, sizeof buf) == nullptr) return absl::ErrnoToStatus(errno, "getcwd()");
    options->cwd = buf;
  }
  if (realpath(options->cwd.c_str(), buf) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("realpath(", options->cwd, ") (--cwd)"));
  }
  state->cwd = buf;
  state->cwd_fd.reset(open(state->cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!state->cwd_fd.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("open(", state->cwd, ") (--cwd)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RealpathOrSelf(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

absl::StatusOr<std::unique_ptr<const CheckState>> PrepareCheckState(CheckOptions options) {
  auto state = std::make_unique<CheckState>();
  absl::Status status = ResolveCwd(&options, state.get());
  if (!status.ok()) return status;
  if (options.curdir.empty()) options.curdir = options.cwd;
  state->ignore_paths = SortUniqueRealpaths(IgnorePaths(options));
  state->bailiwick = SortUniqueRealpaths(options.bailiwick);
  state->tmpdir = Tmpdir(options.tmpdir_env);
  status = ParseFilter(options.ignore_filter, "IGNORE_FILTER", &state->ignore_filter);
  if (!status.ok()) return status;
  if (!options.cmp_filter.empty() && options.compat == Compat::k20200710) {
    return absl::InvalidArgumentError(
        "CMP_FILTER needs compat 20260313: bmake 20200710 has no .MAKE.META.CMP_FILTER");
  }
  status = ParseFilter(options.cmp_filter, "CMP_FILTER", &state->cmp_filter);
  if (!status.ok()) return status;
  state->options = std::move(options);
  return std::unique_ptr<const CheckState>(std::move(state));
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
