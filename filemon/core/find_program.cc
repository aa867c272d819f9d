#include "filemon/core/find_program.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "filemon/core/path_search.h"
#include "filemon/core/shebang.h"

extern "C" char** environ;

namespace filemon {
namespace {

// `path` as seen from here when the command's directory is `cwd`.
std::string SeenFromHere(const std::string& path, const std::string& cwd) {
  return cwd.empty() || path[0] == '/' ? path : absl::StrCat(cwd, "/", path);
}

// The interpreter named by the "#!" line that begins the file `path` (shebang.h), or "" (not a
// script, unreadable, or a script of an empty name).
std::string InterpreterOf(const std::string& path) {
  char head[kShebangBufferSize];
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return "";
  ssize_t n;
  do {
    n = read(fd, head, sizeof(head));
  } while (n < 0 && errno == EINTR);
  close(fd);
  const char* name;
  size_t length;
  if (n <= 0 || !ShebangInterpreter(head, static_cast<size_t>(n), &name, &length)) return "";
  return std::string(name, length);
}

// The value of PATH in the environment the command gets, or nullptr.
const char* SearchPathOf(const Command& command) {
  if (!command.env.has_value()) return getenv("PATH");
  const char* found = nullptr;
  for (const std::string& entry : *command.env) {
    if (found == nullptr && absl::StartsWith(entry, "PATH=")) found = entry.c_str() + 5;
  }
  return found;
}

}  // namespace

absl::StatusOr<std::string> FindProgram(const Command& command) {
  const std::string& name = command.argv[0];
  if (IsPathName(name.c_str())) return name;
  std::string found;
  std::string first_denied;
  char buffer[PATH_MAX];
  ForEachSearchCandidate(
      SearchPathOf(command), name.c_str(), buffer, sizeof(buffer), [&](const char* path) {
        // "./name" for an empty DIR: a path name, whatever runs it.
        const std::string candidate = IsPathName(path) ? path : absl::StrCat("./", path);
        // Seen from here: the command's directory may differ from ours.
        const std::string here = SeenFromHere(candidate, command.cwd);
        struct stat st;
        if (stat(here.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return true;
        if (access(here.c_str(), X_OK) == 0) {
          found = candidate;
          return false;
        }
        if (first_denied.empty()) first_denied = candidate;
        return true;
      });
  if (!found.empty()) return found;
  if (!first_denied.empty()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot execute ", first_denied));
  }
  return absl::NotFoundError(absl::StrCat("command not found in PATH: ", name));
}

std::string DescribeFailedExec(int error, const std::string& program, const std::string& cwd) {
  std::string call = absl::StrCat("execve(", program, ")");
  if (error != ENOENT || program.empty()) return call;
  const std::string interpreter = InterpreterOf(SeenFromHere(program, cwd));
  struct stat st;
  if (interpreter.empty() || stat(SeenFromHere(interpreter, cwd).c_str(), &st) == 0) return call;
  return absl::StrCat(call, ": its interpreter ", interpreter);
}

}  // namespace filemon
