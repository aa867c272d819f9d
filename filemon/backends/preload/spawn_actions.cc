#include "filemon/backends/preload/spawn_actions.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include <cstddef>

#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/path_rule.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {

void EncodeSpawnActions(const posix_spawn_file_actions_t* actions, ByteAppender* out) {
  ForEachSpawnAction(actions, [&](char kind, const char* path, int fd) {
    if (path != nullptr) return AppendSpawnAction(*out, kind, path, Length(path));
    char dir[PATH_MAX];
    const long n = ReadFdTarget(fd, dir, sizeof(dir));
    if (n > 0 && n < static_cast<long>(sizeof(dir))) {
      AppendSpawnAction(*out, kind, dir, static_cast<size_t>(n));
    }
  });
}

void RecordSpawnFileActions(BatchMessage* m, pid_t child,
                            const posix_spawn_file_actions_t* actions) {
  ForEachSpawnAction(actions, [&](char kind, const char* path, int fd) {
    if (path == nullptr) {
      return m->Add(WireKind::kChdir, child, fd, "", AT_FDCWD, nullptr, PathRule::kDirectory);
    }
    m->Add(kind == 'R'   ? WireKind::kRead
           : kind == 'W' ? WireKind::kWrite
                         : WireKind::kChdir,
           child, AT_FDCWD, path);
  });
}

// Out of line in every caller (the process start's and the spawn's frames stay small): its
// path buffer is only paid by a process that has actions to record.
__attribute__((noinline)) void AddSpawnActions(BatchMessage* m, int pid, const char* text) {
  DecodeSpawnActions(text, [&](char kind, const char* bytes, size_t size) {
    char path[PATH_MAX + 1];
    if (size > PATH_MAX) return;
    memcpy(path, bytes, size);
    path[size] = '\0';
    switch (kind) {
      case 'R':
        m->Add(WireKind::kRead, pid, AT_FDCWD, path);
        break;
      case 'W':
        m->Add(WireKind::kWrite, pid, AT_FDCWD, path);
        break;
      case 'C':
        m->Add(WireKind::kChdir, pid, AT_FDCWD, path);
        break;
      case 'c':
        m->Add(WireKind::kChdir, pid, AT_FDCWD, path, AT_FDCWD, nullptr, PathRule::kLiteral);
        break;
      case 'N':
        m->Add(WireKind::kNotFound, pid, AT_FDCWD, path);
        break;
      default:
        break;
    }
  });
}

}  // namespace preload_internal
}  // namespace filemon
