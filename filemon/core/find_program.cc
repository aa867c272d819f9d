#include "filemon/core/find_program.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/core/path_search.h"

extern "C" char** environ;

namespace filemon {
namespace {

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
        const std::string here = command.cwd.empty() || candidate[0] == '/'
                                     ? candidate
                                     : absl::StrCat(command.cwd, "/", candidate);
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

}  // namespace filemon
