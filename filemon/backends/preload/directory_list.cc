#include "filemon/backends/preload/directory_list.h"

#include <cstddef>
#include <cstring>

#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {

namespace {
FILEMON_START_RODATA constexpr char kLib[] = "/lib/";
FILEMON_START_RODATA constexpr char kLib64[] = "/lib64/";
FILEMON_START_RODATA constexpr char kUsrLib[] = "/usr/lib/";
FILEMON_START_RODATA constexpr char kUsrLib64[] = "/usr/lib64/";
FILEMON_START_RODATA constexpr char kUsrLocalLib[] = "/usr/local/lib/";
}  // namespace

FILEMON_START_TEXT bool IsSystemLibraryDir(const char* path) {
  return StartsWith(path, kLib) || StartsWith(path, kLib64) || StartsWith(path, kUsrLib) ||
         StartsWith(path, kUsrLib64) || StartsWith(path, kUsrLocalLib);
}

FILEMON_START_TEXT bool InDirectoryList(const char* path, const char* list) {
  if (list == nullptr) return false;
  size_t path_len = Length(path);
  size_t dir_len = path_len;
  while (dir_len > 0 && path[dir_len - 1] != '/') --dir_len;
  if (dir_len > 0) --dir_len;  // the directory without its trailing '/'
  const char* p = list;
  while (*p != '\0') {
    const char* end = p;
    while (*end != '\0' && *end != ':') ++end;
    size_t n = static_cast<size_t>(end - p);
    while (n > 1 && p[n - 1] == '/') --n;
    if (n == dir_len && memcmp(p, path, n) == 0) return true;
    p = *end == ':' ? end + 1 : end;
  }
  return false;
}

}  // namespace preload_internal
}  // namespace filemon
