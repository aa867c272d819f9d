// File: filemon/backends/ptrace/lookup_precheck.h
//
// With probes, every call of the stat family stops its tracee, but only a failure with ENOENT or
// ENOTDIR becomes a record (`N`), and a seccomp filter cannot see a call's result. Most of these
// lookups find their path (a compiler's realpath reads the link of every directory on the way and
// fails with EINVAL), so at the entry stop, while the tracee is stopped, the tracer looks the path
// up itself as the tracee would: through /proc/TID/cwd or /proc/TID/fd/DIRFD for a relative path,
// following a final symbolic link as the call does. When it finds the path, the call cannot fail
// that way and the exit stop is skipped; otherwise the exit stop reads the tracee's own result.
//
// The tracer's lookup is the tracee's only when both resolve paths alike:
//  - the same root directory and mount namespace (`RootComparer`); a tracee that differs, or may
//    have changed them (chroot, pivot_root, unshare, setns: `Op::kRootChange`) since it was
//    compared, is not judged by the tracer;
//  - not through procfs's names of the caller (/proc/self, /proc/thread-self, and /dev/fd,
//    /dev/stdin... which link into them): a path under /proc or /dev is never judged. A symbolic
//    link elsewhere into them, or a relative path from a working directory in /proc, may still
//    be judged on the tracer's own process; neither names a file a build depends on.
//
// The race, chosen deliberately: a path the tracer finds and another process removes before the
// tracee's own lookup fails unseen there, and its `N` is lost (the lookup raced with the removal,
// and the record would say the path was absent at a moment it was not, for the tracer). A path
// the tracer does not find is never decided here: no `N` is written for a lookup that succeeded.
//
// Example:
//   RootComparer root;  // on the tracing thread
//   if (root.SameAs(tid) && FoundNow(tid, AT_FDCWD, "/usr/include", FinalLink::kNoFollow)) {
//     // no exit stop needed
//   }

#ifndef FILEMON_BACKENDS_PTRACE_LOOKUP_PRECHECK_H_
#define FILEMON_BACKENDS_PTRACE_LOOKUP_PRECHECK_H_

#include <sys/types.h>

#include "absl/strings/string_view.h"
#include "filemon/backends/ptrace/syscall_table.h"

namespace filemon {
namespace ptrace_internal {

// True when `path`, looked up as thread `tid` would from `dirfd` (AT_FDCWD: its working
// directory), exists now for the calling thread. False when it does not, when the lookup fails
// otherwise, and when it cannot be judged from here (a path under /proc or /dev, an empty one).
bool FoundNow(pid_t tid, int dirfd, absl::string_view path, FinalLink final_link);

// The root directory and mount namespace of the thread that constructs it (the tracer), compared
// with a tracee's. Thread-compatible.
class RootComparer {
 public:
  RootComparer();

  // Whether thread `tid` has the same root directory and mount namespace now.
  bool SameAs(pid_t tid) const;

 private:
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
  };
  static bool Id(const char* path, FileId* out);

  bool valid_ = false;
  FileId root_, mount_ns_;
};

}  // namespace ptrace_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_LOOKUP_PRECHECK_H_
