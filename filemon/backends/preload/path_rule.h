// File: filemon/backends/preload/path_rule.h
//
// How the interposer writes a path into a record, by the ptrace backend's rules
// (ptrace/decoder.cc, Decoder::Resolve): as the program passed it; a relative path with a real
// directory descriptor gets that directory's absolute path and '/' in front ("./f" and "."
// joined as "DIR/f" and "DIR"); with `--absolute` every relative path is joined to the
// current directory or the dirfd. The directory's path comes from the kernel
// (/proc/self/fd/N, getcwd) through raw system calls.
//
// libc-only, async-signal-safe, allocates nothing.
//
// Example:
//   ByteAppender out(buffer, sizeof(buffer));
//   AppendPath(out, dirfd, "./f", PathRule::kAsPassed, PathOptions{});  // "/dir/of/fd/f"

#ifndef FILEMON_BACKENDS_PRELOAD_PATH_RULE_H_
#define FILEMON_BACKENDS_PRELOAD_PATH_RULE_H_

#include <cstddef>

#include "filemon/backends/preload/wire_format.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

enum class PathRule {
  kAsPassed,   // the ptrace backend's rule (see the top of this file)
  kLiteral,    // never prefixed: the contents of a symlink
  kDirectory,  // the directory `dirfd` names, alone (fchdir; the path is ignored)
  kExec,       // an exec'd program: always absolute (through the cwd), a leading "./" dropped
};

struct PathOptions {
  bool absolute = false;  // TraceOptions::absolute_paths: join every relative path
};

// Appends `path` (relative to `dirfd`, or AT_FDCWD) to `out` by `rule`; returns the bytes
// appended. When the directory's path does not fit (or did not fit at once: readlink cuts
// without saying so), `out` is marked as overflowing and 0 returned, so that the caller
// retries in a larger buffer. A dirfd the kernel cannot name leaves the path as passed.
size_t AppendPath(ByteAppender& out, int dirfd, const char* path, PathRule rule,
                  const PathOptions& options);

// Reads the target of /proc/self/fd/`fd` into `out` (no NUL). Returns its length (== `size`:
// possibly cut), or -errno.
long ReadFdTarget(int fd, char* out, size_t size);

// The path of `dirfd` + "/" + `path` (or of `dirfd` alone for an empty or null path; `path`
// alone when absolute), NUL-terminated in `out`, for the E record of execveat/fexecve.
// False if the directory cannot be named or the result does not fit in `size` bytes.
bool ExecPathAt(int dirfd, const char* path, char* out, size_t size);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_PATH_RULE_H_
