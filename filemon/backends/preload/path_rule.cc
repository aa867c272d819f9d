#include "filemon/backends/preload/path_rule.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {
namespace {

// Appends the path of `dirfd` (AT_FDCWD: the current directory). Returns its length, 0 or
// -errno when the kernel could not name it; marks `out` when it did not fit.
long AppendDirectory(ByteAppender& out, int dirfd) {
  long n;
  if (dirfd == AT_FDCWD) {
    n = RawSyscall2(SYS_getcwd, reinterpret_cast<long>(out.tail()), static_cast<long>(out.room()));
    if (n == -ERANGE) out.MarkOverflow();  // retried in a larger buffer
    if (n > 0) --n;                        // getcwd counts the NUL
  } else {
    n = ReadFdTarget(dirfd, out.tail(), out.room());
    // readlink cuts a target that does not fit without saying so: retried larger.
    if (n >= static_cast<long>(out.room())) out.MarkOverflow();
  }
  if (n > 0 && !out.overflow()) out.Grow(static_cast<size_t>(n));
  return n;
}

}  // namespace

long ReadFdTarget(int fd, char* out, size_t size) {
  char link[kFdLinkSize];
  FdLinkPath(fd, link);
  return RawSyscall4(SYS_readlinkat, AT_FDCWD, reinterpret_cast<long>(link),
                     reinterpret_cast<long>(out), static_cast<long>(size));
}

FILEMON_START_TEXT size_t AppendPath(ByteAppender& out, int dirfd, const char* path, PathRule rule,
                                     const PathOptions& options) {
  const size_t before = out.size();
  const bool joined = rule == PathRule::kDirectory || rule == PathRule::kExec;
  if (rule != PathRule::kLiteral && path[0] != '/' &&
      (dirfd != AT_FDCWD || options.absolute || joined)) {
    const long n = AppendDirectory(out, dirfd);
    if (out.overflow()) return 0;
    if (n > 0) {
      if (rule == PathRule::kDirectory) return out.size() - before;
      if (rule != PathRule::kExec) {
        // Joined as ptrace joins it: "DIR" + "./f" is "DIR/f", "DIR" + "." is "DIR".
        while (path[0] == '.' && path[1] == '/') path += 2;
        if (path[0] == '.' && path[1] == '\0') ++path;
        if (path[0] == '\0') return out.size() - before;
      }
      // "/" + "x" must not become "//x".
      if (out.data()[out.size() - 1] != '/') out.Append("/", 1);
    }
    if (rule == PathRule::kExec) {
      while (path[0] == '.' && path[1] == '/') {
        path += 2;
        while (*path == '/') ++path;
      }
    }
  }
  out.Append(path, Length(path));
  return out.size() - before;
}

bool ExecPathAt(int dirfd, const char* path, char* out, size_t size) {
  if (path != nullptr && path[0] == '/') {
    CopyString(path, out, size);
    return true;
  }
  long n;
  if (dirfd == AT_FDCWD) {
    n = RawSyscall2(SYS_getcwd, reinterpret_cast<long>(out), static_cast<long>(size));
    if (n > 0) --n;
  } else {
    n = ReadFdTarget(dirfd, out, size - 1);
  }
  if (n <= 0) return false;
  size_t used = static_cast<size_t>(n);
  if (path != nullptr && path[0] != '\0') {
    size_t rest = Length(path);
    if (used + 1 + rest >= size) return false;
    out[used++] = '/';
    memcpy(out + used, path, rest);
    used += rest;
  }
  out[used] = '\0';
  return true;
}

}  // namespace preload_internal
}  // namespace filemon
