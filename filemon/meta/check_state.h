// File: filemon/meta/check_state.h (internal to //filemon/meta)
//
// `CheckOptions` prepared once for every check of a `Checker`: bmake's working directory
// resolved and opened, IGNORE_PATHS and the bailiwick realpath'ed as bmake's `:tA` does, its
// TMPDIR rule, the filters parsed. And `TargetTime`, the target's mtime as files are compared
// with it. Immutable once prepared; shared by concurrent checks.

#ifndef FILEMON_META_CHECK_STATE_H_
#define FILEMON_META_CHECK_STATE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "filemon/core/owned_fd.h"
#include "filemon/meta/check_options.h"
#include "filemon/meta/modifiers.h"
#include "filemon/meta/path_cache.h"

namespace filemon {
namespace meta {
namespace internal {

struct CheckState {
  CheckOptions options;                   // `cwd` and `curdir` filled in
  std::string cwd;                        // realpath of options.cwd (bmake's getcwd())
  OwnedFd cwd_fd;                         // O_PATH descriptor of `cwd`
  std::vector<std::string> ignore_paths;  // sorted, unique, realpath'ed; defaults included
  std::vector<std::string> bailiwick;     // sorted, unique, realpath'ed
  std::string tmpdir;                     // bmake's getTmpdir(), ending in '/'
  absl::optional<ModifierChain> ignore_filter;
  absl::optional<ModifierChain> cmp_filter;
};

// Errors: `cwd` (or the process's, when empty) that cannot be resolved or opened; a filter
// with an unsupported modifier; `cmp_filter` with Compat::k20200710. Each names its option.
absl::StatusOr<std::unique_ptr<const CheckState>> PrepareCheckState(CheckOptions options);

// bmake's `:tA`: the realpath of `path`, or `path` unchanged if that fails.
std::string RealpathOrSelf(const std::string& path);

// The target's mtime, and how files are compared with it (CheckOptions::mtime_resolution).
struct TargetTime {
  int64_t sec = 0;
  int32_t nsec = -1;  // -1: whole seconds, as bmake compares
  // Whether the file `st` describes is newer than the target.
  bool OlderThan(const StatResult& st) const {
    return st.mtime > sec || (nsec >= 0 && st.mtime == sec && st.mtime_nsec > nsec);
  }
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_CHECK_STATE_H_
