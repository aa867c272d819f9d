#include "filemon/backends/preload/untraced.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/user_memory.h"
#include "filemon/backends/preload/wire_format.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439  // Linux 5.8; the same number on every architecture
#endif

namespace filemon {
namespace preload_internal {
namespace {

constexpr size_t kNumber = 24;
constexpr char kNoRoom[] =
    "its arguments and environment leave no room for the interposer's variables (E2BIG)";
constexpr char kLoss[] =
    "; neither its operations nor those of the programs it starts are recorded";

// The text of a note: "pid N" and the pieces.
class NoteText {
 public:
  explicit NoteText(int pid) : out_(text_, sizeof(text_) - 1) {
    char number[kNumber];
    Add("pid ");
    out_.Append(number, FormatUnsigned(static_cast<unsigned>(pid), number));
  }
  // " (PATH) ": the program the process runs.
  NoteText& AddProgram(const char* path) {
    return Add(" (").Add(path != nullptr ? path : "").Add(") ");
  }
  NoteText& Add(const char* piece) {
    out_.Append(piece, Length(piece));
    return *this;
  }
  NoteText& AddErrno(int error) {
    char number[kNumber];
    Add("errno ");
    out_.Append(number, FormatUnsigned(static_cast<unsigned>(error), number));
    return *this;
  }
  // NUL-terminated; cut short if a path was too long.
  const char* c_str() {
    text_[out_.size()] = '\0';
    return text_;
  }
  // Sends the note as a comment of its own.
  void Send() {
    Message m;
    m.AddComment(c_str());
    m.Send();
  }

 private:
  char text_[PATH_MAX + 512];
  ByteAppender out_;
};

// The calling thread's capability sets, its effective set reduced to what an ordinary program
// it execs would start with (its ambient capabilities, of those that override file modes), and
// restored.
class EffectiveCapabilities {
 public:
  // True if the thread's effective set was reduced.
  bool Drop() {
    if (RawSyscall2(SYS_capget, reinterpret_cast<long>(&header_), reinterpret_cast<long>(data_)) !=
        0) {
      return false;
    }
    uint32_t kept = 0;
    for (const int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}) {
      if (RawSyscall6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0, 0) == 1) {
        kept |= 1u << cap;
      }
    }
    if (data_[0].effective == kept && data_[1].effective == 0) return false;
    struct __user_cap_data_struct after_exec[2];
    for (int i = 0; i < 2; ++i) {
      after_exec[i] = {i == 0 ? kept : 0, data_[i].permitted, data_[i].inheritable};
    }
    return Set(after_exec);
  }
  void Restore() { Set(data_); }

 private:
  bool Set(struct __user_cap_data_struct* data) {
    return RawSyscall2(SYS_capset, reinterpret_cast<long>(&header_),
                       reinterpret_cast<long>(data)) == 0;
  }

  struct __user_cap_header_struct header_ = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data_[2] = {};
};

}  // namespace

int LibraryAccessError(const char* library) {
  if (library == nullptr || library[0] == '\0') return 0;
  // A process that is no longer root may still hold capabilities that override file modes
  // (setpriv and daemons keep them until their exec); an ordinary program exec'd by a user
  // other than root starts without them. So this thread checks without its effective
  // capabilities, and gets them back at once (capabilities are per thread).
  EffectiveCapabilities saved;
  const bool dropped = RawSyscall0(SYS_geteuid) != 0 && saved.Drop();
  const long path = reinterpret_cast<long>(library);
  long rc = RawSyscall4(SYS_faccessat2, AT_FDCWD, path, R_OK, AT_EACCESS);
  // Before Linux 5.8: the real user and groups, the same ones unless a set-ID program runs.
  if (rc == -ENOSYS) rc = RawSyscall4(SYS_faccessat, AT_FDCWD, path, R_OK, 0);
  if (dropped) saved.Restore();
  return rc < 0 ? static_cast<int>(-rc) : 0;
}

void SayRunsUntraced(int pid, const char* path, UntracedWhy why, int error) {
  NoteText text(pid);
  text.AddProgram(path).Add("runs untraced: ");
  if (why == UntracedWhy::kNoRoom) {
    text.Add(kNoRoom);
  } else {
    text.Add("the loader cannot read the interposer ").Add(g_lib_path).Add(" as this user (");
    text.AddErrno(error).Add(")");
  }
  text.Add(kLoss);
  Message m;
  m.AddComment(text.c_str());
  m.AddExecPath(WireKind::kExec, pid, path);
  m.AddUnenterable(pid);
  m.Send();
}

void SayUntracedExecFailed(int pid, const char* path, int error) {
  NoteText text(pid);
  text.AddProgram(path).Add("did not run after all: its untraced exec failed too (");
  text.AddErrno(error).Add(")");
  text.Send();
}

void SayHandedOverExecFailed(int pid, const char* path, int error) {
  const int saved_errno = errno;
  NoteText text(pid);
  text.Add(": its exec of ").Add(path != nullptr ? path : "a program");
  text.Add(" failed after its hand-over to a nested trace (").AddErrno(error);
  text.Add("): what it does next is in this log, its X in the nested one");
  text.Send();
  errno = saved_errno;
}

void SayHandedOverSpawnFailed(int pid, const char* path, int error) {
  const int saved_errno = errno;
  NoteText text(pid);
  text.Add(": its posix_spawn of ").Add(path != nullptr ? path : "a program");
  text.Add(" failed after its hand-over to a nested trace (").AddErrno(error);
  text.Add(
      "): the program did not run, and the child glibc created for it, if any, is in neither "
      "log");
  text.Send();
  errno = saved_errno;
}

void SayFailedSpawnsChildIsMissing(int pid, const char* path, int error) {
  NoteText text(pid);
  text.Add(": a posix_spawn of ").Add(ReadableString(path) ? path : "a program");
  text.Add(" failed in the child glibc created for it (").AddErrno(error);
  text.Add(
      "), whose pid is not known here: that child's F, what its file actions did before it "
      "failed, and its X are missing");
  text.Send();
}

}  // namespace preload_internal
}  // namespace filemon
