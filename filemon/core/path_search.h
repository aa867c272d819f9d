// File: filemon/core/path_search.h
//
// execvp(3)'s search of PATH, for every place that must find the program execvp would run: the
// backends' FindProgram (find_program.h) before they start a command, and the preload
// interposer's execvp/execlp/posix_spawnp wrappers inside the traced program. One rule, one
// default (kDefaultSearchPath), so that they agree with each other and with glibc.
//
// libc-only, header-only, allocates nothing, async-signal-safe: the interposer includes it.
//
// Example:
//   char candidate[PATH_MAX];
//   ForEachSearchCandidate(getenv("PATH"), "cc", candidate, sizeof(candidate),
//                          [&](const char* path) { return access(path, X_OK) != 0; });

#ifndef FILEMON_CORE_PATH_SEARCH_H_
#define FILEMON_CORE_PATH_SEARCH_H_

#include <cstddef>
#include <cstring>

#include "filemon/core/default_path.h"

namespace filemon {

// True if execvp takes `file` as a path (it holds a '/') rather than searching PATH for it.
inline bool IsPathName(const char* file) { return std::strchr(file, '/') != nullptr; }

// Calls `fn(const char* candidate)` for each program execvp tries for `file`, in order:
// DIR/file for each ':'-separated DIR of `search` (kDefaultSearchPath when nullptr), and `file`
// itself for an empty DIR (glibc runs it from the current directory). Each candidate is
// written, NUL-terminated, to `buffer` (`size` bytes); a DIR whose candidate does not fit is
// skipped (the kernel would refuse it). `fn` returns true to go on, false to stop. Returns
// false if `fn` stopped the search.
// REQUIRES: `file` is not a path name (IsPathName).
template <typename Fn>
bool ForEachSearchCandidate(const char* search, const char* file, char* buffer, size_t size,
                            Fn fn) {
  if (search == nullptr) search = kDefaultSearchPath;
  const size_t file_len = std::strlen(file);
  for (const char* dir = search;;) {
    const char* end = dir;
    while (*end != '\0' && *end != ':') ++end;
    const size_t dir_len = static_cast<size_t>(end - dir);
    if (dir_len + file_len + 2 <= size) {
      size_t n = 0;
      if (dir_len > 0) {
        std::memcpy(buffer, dir, dir_len);
        n = dir_len;
        buffer[n++] = '/';
      }
      std::memcpy(buffer + n, file, file_len + 1);
      if (!fn(static_cast<const char*>(buffer))) return false;
    }
    if (*end == '\0') return true;
    dir = end + 1;
  }
}

}  // namespace filemon

#endif  // FILEMON_CORE_PATH_SEARCH_H_
