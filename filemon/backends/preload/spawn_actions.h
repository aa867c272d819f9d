// File: filemon/backends/preload/spawn_actions.h
//
// posix_spawn's file actions as the log needs them. glibc's child performs them inside glibc,
// where no wrapper sees them, so the parent reads them from the `posix_spawn_file_actions_t`
// before the spawn and either passes them encoded to the child (launch_protocol.h,
// FILEMON_PRELOAD_ACTIONS), whose start writes their records after its F, or writes them
// itself under the child's pid when the child cannot.
//
// libc-only, async-signal-safe, allocates nothing.
//
// Example:
//   char text[8192];
//   ByteAppender encoder(text, sizeof(text) - 1);
//   EncodeSpawnActions(actions, &encoder);

#ifndef FILEMON_BACKENDS_PRELOAD_SPAWN_ACTIONS_H_
#define FILEMON_BACKENDS_PRELOAD_SPAWN_ACTIONS_H_

#include <spawn.h>
#include <sys/types.h>

#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/core/open_rule.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// glibc's file actions (sysdeps/posix/spawn_int.h, unchanged since glibc 2.29).
struct GlibcSpawnAction {
  enum Tag { kClose, kDup2, kOpen, kChdir, kFchdir, kClosefrom, kTcsetpgrp } tag;
  union {
    struct {
      int fd;
      char* path;
      int oflag;
      mode_t mode;
    } open_action;
    struct {
      char* path;
    } chdir_action;
    struct {
      int fd;
    } fchdir_action;
  } action;
};

// Calls `fn(char kind, const char* path, int fd)` for each action of `actions` that ptrace
// would record: 'R'/'W' per record of an open (R then W for O_RDWR), 'C' a chdir, 'c' an
// fchdir of `fd` (path nullptr). `actions` may be nullptr (none).
template <typename Fn>
void ForEachSpawnAction(const posix_spawn_file_actions_t* actions, Fn fn) {
  if (actions == nullptr || actions->__used <= 0 || actions->__actions == nullptr) return;
  const auto* list = reinterpret_cast<const GlibcSpawnAction*>(actions->__actions);
  for (int i = 0; i < actions->__used; ++i) {
    const GlibcSpawnAction& a = list[i];
    if (a.tag == GlibcSpawnAction::kOpen && a.action.open_action.path != nullptr) {
      ForEachOpenRecord(static_cast<unsigned>(a.action.open_action.oflag), [&](OpenRecord r) {
        fn(r == OpenRecord::kRead ? 'R' : 'W', a.action.open_action.path, -1);
      });
    } else if (a.tag == GlibcSpawnAction::kChdir && a.action.chdir_action.path != nullptr) {
      fn('C', a.action.chdir_action.path, -1);
    } else if (a.tag == GlibcSpawnAction::kFchdir) {
      fn('c', nullptr, a.action.fchdir_action.fd);
    }
  }
}

// Appends the actions, encoded (launch_protocol.h), to `out`; an fchdir's directory is resolved
// here, where the descriptor is the child's until the spawn (one that cannot be resolved is
// left out).
void EncodeSpawnActions(const posix_spawn_file_actions_t* actions, ByteAppender* out);

// Appends the records of `actions` under `child` to `m` (the parent writes them when the
// child cannot).
void RecordSpawnFileActions(BatchMessage* m, pid_t child,
                            const posix_spawn_file_actions_t* actions);

// Appends the records of the encoded actions `text` under `pid` to `m` ('N': a probe).
void AddSpawnActions(BatchMessage* m, int pid, const char* text);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_SPAWN_ACTIONS_H_
