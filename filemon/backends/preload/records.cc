#include "filemon/backends/preload/records.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/libc_window.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"
#include "filemon/core/open_rule.h"

namespace filemon {
namespace preload_internal {

// open/openat/creat/fopen: FreeBSD's rule (filemon/core/open_rule.h).
// `at`: openat/openat2, which also write the `A` clue for a relative path with a real dirfd
// (not with --absolute, as ptrace: every path is then resolved, and the clue would be the one
// relative path of the log).
// `trapped`: called by the libc window's trap handler. Inside a window the handler records
// the open system call itself, so the wrappers do not.
void RecordActiveOpen(int dirfd, const char* path, int flags, bool at, bool trapped) {
  if (!trapped && InLibcWindowNow()) return;
  Message m;
  int pid = Pid();
  if (at && !g_absolute && path[0] != '/' && dirfd != AT_FDCWD) {
    m.AddLiteral(WireKind::kAt, pid, path, Length(path));
  }
  // Always inline: Add is large, and GCC would keep the lambda out of line (a call per record).
  ForEachOpenRecord(
      static_cast<unsigned>(flags), [&](OpenRecord r) __attribute__((always_inline)) {
        m.Add(r == OpenRecord::kRead ? WireKind::kRead : WireKind::kWrite, pid, dirfd, path);
      });
  m.Send();
}

// fopen modes: "r" read; "w"/"a" write; "+" both.
int FopenFlags(const char* mode) {
  if (mode == nullptr) return O_RDONLY;
  bool plus = false;
  for (const char* m = mode + 1; *m != '\0' && *m != ','; ++m) plus |= (*m == '+');
  if (plus) return O_RDWR;
  return mode[0] == 'r' ? O_RDONLY : O_WRONLY;
}

void RecordOne(WireKind kind, int dirfd, const char* path) {
  if (!Active() || path == nullptr) return;
  Message m;
  m.Add(kind, Pid(), dirfd, path);
  m.Send();
}

void RecordTwo(WireKind kind, int dirfd1, const char* path1, int dirfd2, const char* path2) {
  if (!Active() || path1 == nullptr || path2 == nullptr) return;
  Message m;
  m.Add(kind, Pid(), dirfd1, path1, dirfd2, path2);
  m.Send();
}

// symlink: the link contents are recorded as given, never prefixed.
void RecordSymlink(const char* target, int dirfd, const char* linkpath) {
  if (!Active() || target == nullptr || linkpath == nullptr) return;
  Message m;
  // The contents of a symlink are not a path relative to the caller.
  m.Add(WireKind::kLink, Pid(), AT_FDCWD, target, dirfd, linkpath, PathRule::kLiteral);
  m.Send();
}

// fchdir: C with the directory the descriptor names.
void RecordFchdir(int fd) {
  if (!Active()) return;
  Message m;
  m.Add(WireKind::kChdir, Pid(), fd, "", AT_FDCWD, nullptr, PathRule::kDirectory);
  m.Send();
}

FILEMON_START_TEXT void RecordExit(int code) {
  if (!Active()) return;
  int pid = Pid();
  if (g_exit_recorded.exchange(pid) == pid) return;
  // Another thread's creation that has not written its F yet: X must come after it (bounded:
  // a creation interrupted by a handler that exits never finishes).
  for (int i = 0; i < 1000 && g_creations_in_flight.load(std::memory_order_acquire) > 0; ++i) {
    RawSyscall0(SYS_sched_yield);
  }
  Message m;
  m.AddExit(Pid(), code & 0xff, 0);
  m.Send();
}

// A parent reaped `pid`: the supervisor writes X for it unless the child wrote its own
// (a child killed by a signal, or one the interposer could not see).
void RecordReaped(pid_t pid, int wait_status) {
  if (!Active() || pid <= 0) return;
  Message m(MessageType::kReaped);
  if (WIFEXITED(wait_status)) {
    m.AddExit(pid, WEXITSTATUS(wait_status), 0);
  } else if (WIFSIGNALED(wait_status)) {
    m.AddExit(pid, 0, WTERMSIG(wait_status));
  } else {
    return;  // stopped or continued: not an exit
  }
  m.Send();
}

}  // namespace preload_internal
}  // namespace filemon
