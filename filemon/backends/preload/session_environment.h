// File: filemon/backends/preload/session_environment.h
//
// The environment a preload (or auto) `TraceSession` gives the command the caller forks
// itself (bmake's filemon API): the caller's own environment at the moment of the fork, minus
// its `LD_PRELOAD` and `FILEMON_PRELOAD_*` entries, plus the session's (launch_protocol.h):
// `LD_PRELOAD=LIBRARY[:the caller's]`, the channel's descriptors, and
// `FILEMON_PRELOAD_PID=<the child's own pid>` (the command's start writes no F: its parent, the
// caller, is not traced), and `FILEMON_PRELOAD_SESSION=<the same pid>`: where the caller is
// itself traced by preload (a nested bmake), the enclosing trace's interposer then hands the
// child over to this session at its exec (launch_protocol.h, "Nested traces").
//
// The child runs the caller's code between `PrepareChild()` and its exec, with the caller's
// `execv*()`, which reads `environ`; the only way to give that exec another environment is to
// point `environ` elsewhere in the child. The contract of `TraceSession::PrepareChild()` then
// shapes everything here:
//   - Async-signal-safe and allocating nothing (`Enter`): the strings are made by the parent
//     in `Create`, and the array and the two strings that depend on the moment (the combined
//     `LD_PRELOAD`, the pid) are filled in room reserved there. An environment that does not
//     fit is refused with E2BIG rather than cut.
//   - Correct after vfork(), where the child shares the caller's memory: `Enter` changes
//     nothing of the caller's but `environ` itself, and keeps the caller's value in this
//     object, which the parent sees too; `Restore`, in the parent once the child has exec'd
//     (`SetChild`), puts it back. After fork() the parent's copy of this object says nothing
//     was entered and `Restore` does nothing.
//   - The caller's code may still change the environment between `Enter` and the exec (bmake's
//     job mode calls setenv() for its .export variables in the vforked child). Changing an
//     entry or removing one works on our array, which the parent never sees again: it gets its
//     own array back, as after fork(). Adding one makes glibc move `environ` to a new array,
//     reallocated from the one glibc last made, which may be the caller's own (then freed): so
//     `Restore` keeps that new array, removes the session's entries from it in place, and puts
//     back the caller's `LD_PRELOAD` and `FILEMON_PRELOAD_*` entries (the caller sees the added
//     variable, as after any vfork child's setenv()).
//
// It is also the session's exec fallbacks (session_exec_handoff.h): for an exec the kernel
// refused with E2BIG, the same environment without the setlocale cache, then untraced: without
// the session's entries and with the caller's own LD_PRELOAD and FILEMON_PRELOAD_* entries
// back, the environment the caller's exec would have had without the session.
//
// Not thread-safe: one child per object (one per session); the parent must not change its
// environment from another thread between `Enter` and `Restore` (bmake has one thread).

#ifndef FILEMON_BACKENDS_PRELOAD_SESSION_ENVIRONMENT_H_
#define FILEMON_BACKENDS_PRELOAD_SESSION_ENVIRONMENT_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "filemon/backends/preload/session_exec_handoff.h"

namespace filemon {
namespace preload_internal {

class SessionEnvironment : public ExecFallbacks {
 public:
  struct Options {
    // The interposer library, put first in `LD_PRELOAD`.
    std::string library;
    // The session's other variables, each "NAME=value" (FILEMON_PRELOAD_FD, _PIPE, _SOCKET,
    // _OPTIONS, _HELPER, _LOCALE_SHM); FILEMON_PRELOAD_PID is added by `Enter`.
    std::vector<std::string> variables;
    // Room for the caller's entries at the fork; 0: twice the count now, and 256 more.
    size_t max_entries = 0;
    // Room for the caller's own `LD_PRELOAD` value.
    size_t max_user_preload = 4096;
  };

  static absl::StatusOr<std::unique_ptr<SessionEnvironment>> Create(Options options);
  ~SessionEnvironment() override;
  // Holds the strings `environ` points at between Enter and the exec: neither copied nor moved.
  SessionEnvironment(const SessionEnvironment&) = delete;
  SessionEnvironment& operator=(const SessionEnvironment&) = delete;

  // In the child, between fork/vfork and exec: points `environ` at the session's environment.
  // `self` is the child's own pid (getpid()). Async-signal-safe, allocates nothing. Returns 0,
  // or E2BIG when the caller's environment exceeds the room reserved (then `environ` is
  // unchanged), or EBUSY on a second call.
  int Enter(pid_t self);

  // True if this object has at least the room `Create` would give for the caller's
  // environment now (it may have grown since): a session may then use it again once the
  // previous child is done with it (`Restore`).
  bool HasRoomOfNew() const;

  // In the parent, after the child has exec'd or exited (`TraceSession::SetChild`): gives the
  // caller its environment back if a vforked child changed `environ`. Nothing after fork().
  void Restore();

  // ExecFallbacks, in the child after `Enter`: step 0 without the setlocale cache, step 1
  // untraced.
  size_t Room(char* const* envp) const override;
  bool Fill(int step, char* const* envp, const char** out) const override;

  // The entry `Enter` made for the caller's `LD_PRELOAD` value `user` (null: none), for tests.
  std::string PreloadEntryFor(const char* user) const;

 private:
  explicit SessionEnvironment(Options options);
  // True if `entry` is one of the strings this object made.
  bool Ours(const char* entry) const;
  // Puts `entry` back into `array` (NULL-terminated, room for one more at `*count`) unless an
  // entry of the same name is there.
  static void PutBack(char** array, size_t* count, char* entry);

  Options options_;
  std::vector<char*> array_;     // the child's environment: caller's entries, then ours
  std::vector<char> preload_;    // "LD_PRELOAD=LIBRARY[:user]", filled by Enter
  char pid_entry_[48] = {};      // "FILEMON_PRELOAD_PID=N", filled by Enter
  char session_entry_[48] = {};  // "FILEMON_PRELOAD_SESSION=N", likewise
  std::vector<char*> skipped_;   // the caller's entries Enter left out, for Restore
  size_t skipped_count_ = 0;
  // Written by Enter (seen by the parent only after vfork).
  char** saved_environ_ = nullptr;
  bool entered_ = false;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SESSION_ENVIRONMENT_H_
