#include "filemon/core/find_program.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "filemon/core/default_path.h"

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
  if (name.find('/') != std::string::npos) return name;
  const char* path = SearchPathOf(command);
  if (path == nullptr) path = kDefaultSearchPath;
  std::string first_denied;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    const std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    // Seen from here: the command's directory may differ from ours.
    const std::string here = command.cwd.empty() || candidate[0] == '/'
                                 ? candidate
                                 : absl::StrCat(command.cwd, "/", candidate);
    struct stat st;
    if (stat(here.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (access(here.c_str(), X_OK) == 0) return candidate;
    if (first_denied.empty()) first_denied = candidate;
  }
  if (!first_denied.empty()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot execute ", first_denied));
  }
  return absl::NotFoundError(absl::StrCat("command not found in PATH: ", name));
}

}  // namespace filemon
