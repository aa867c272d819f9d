// File: filemon/backends/ptrace/decoder.h
//
// Turns one successful traced syscall into filemon records: reads its path arguments from the
// stopped tracee with process_vm_readv, resolves dirfd-relative paths through /proc, and hands
// `Record`s (views into the decoder's fixed scratch buffers) to the sink. Nothing is allocated
// per call; the only formatting is the sink's.
//
// Path rules (FreeBSD v5, extended to the *at calls Linux programs use):
//  - paths are written as the process passed them;
//  - a relative path with a real dirfd gets the directory's absolute path as prefix; for
//    openat/openat2 an `A pid path` clue (the path as passed) comes first, as FreeBSD does;
//  - `E` carries the absolute program path (the passed one if absolute, else resolved);
//  - fchdir gives `C` with the directory's absolute path;
//  - with `TraceOptions::absolute_paths` every path is absolute, resolved at the moment of the
//    call through the process's cwd and dirfds (no `A` clue is needed then). Symlink contents
//    (the first path of a symlink's `L`) are what the link contains and are never rewritten.
//  - with `TraceOptions::probes`, a lookup that failed with ENOENT/ENOTDIR (open without
//    O_CREAT, exec, the stat family) gives `N` with the path resolved as for `R`, once per process
//    and path: the paths already said are kept per process (the one allocation per call, and
//    only with probes) until `ForgetProcess`. A lookup that cannot give a new `N` is told apart
//    at its seccomp stop (`ProbeNeedsExit`), so that it needs no exit stop.
//
// Example:
//   Decoder d(options, &sink);
//   d.OnExit(tid, tgid, call, rval);  // at the syscall-exit stop of a call tagged by seccomp

#ifndef FILEMON_BACKENDS_PTRACE_DECODER_H_
#define FILEMON_BACKENDS_PTRACE_DECODER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "filemon/backends/path_rules.h"
#include "filemon/backends/ptrace/syscall_table.h"
#include "filemon/core/backend.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace ptrace_internal {

// A call between its seccomp stop and its exit stop.
struct PendingCall {
  Op op = Op::kNone;
  Abi abi = Abi::kX86_64;
  uint32_t nr = 0;  // the syscall number of `abi`
  uint64_t args[6] = {};
};

// The shared fixed-capacity buffer (path_rules.h).
using Text = path_rules::Text;

class Decoder {
 public:
  Decoder(const TraceOptions& options, RecordSink* sink);
  Decoder(const Decoder&) = delete;  // owns large scratch buffers
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder();

  // At the exit stop of `call` made by thread `tid` of process `tgid`, which returned `rval`
  // (negative errno on failure). Emits the records of a successful call; a failed call emits
  // nothing except for ptrace, whose failure is noted in a comment.
  void OnExit(pid_t tid, pid_t tgid, const PendingCall& call, int64_t rval);

  // Whether the tracer may judge a lookup by looking its path up itself (lookup_precheck.h): the
  // tracee resolves paths as the tracer does.
  enum class Judge { kByTracer, kAtExitOnly };

  // At the seccomp stop of a call traced for its probe (the stat family, and exec with probes):
  // whether its exit stop is needed, i.e. whether it may still fail with ENOENT/ENOTDIR on a path
  // that process `tgid` has not probed yet. False when the path is empty or already probed, and
  // for the stat family when the tracer finds the path now (`judge` permitting).
  bool ProbeNeedsExit(pid_t tid, pid_t tgid, const PendingCall& call, Judge judge);

  // When process `tgid` has exited: its pid may be reused, and the new process's probes are
  // its own.
  void ForgetProcess(pid_t tgid);

  // At the seccomp stop of execve/execveat: the absolute path of the program into `out`
  // (capacity `cap`); returns its length, or 0 when it must be read from /proc/PID/exe after the
  // exec (execveat of an fd).
  size_t ExecPath(pid_t tid, const PendingCall& call, char* out, size_t cap);

  // After a successful exec by process `tgid`: `E tgid path` (`path` empty: /proc/tgid/exe),
  // plus a comment when a set-id program runs without its privilege.
  void OnExec(pid_t tgid, absl::string_view path);

  // "# filemon: pid N: text" (N omitted when 0).
  void Comment(pid_t pid, absl::string_view text);

  RecordSink* sink() const { return sink_; }

 private:
  struct Scratch;
  // Reads the NUL-terminated string at `addr` of `tid` into `out`. False (and a comment) if it
  // cannot be read.
  bool ReadPath(pid_t tid, pid_t tgid, uint64_t addr, Text* out);
  // readlink(/proc/tid/<what>) into `out`, `what` being "cwd", "exe" or "fd/N".
  bool ReadProcLink(pid_t tid, absl::string_view what, int64_t fd, Text* out);
  // Applies the path rules to `path` (dirfd `dirfd`, AT_FDCWD for none) into `out`. Returns
  // whether a dirfd prefix was applied to a relative path.
  bool Resolve(pid_t tid, int dirfd, absl::string_view path, Text* out);
  // Whether an open writes the `A` clue (openat, openat2) before a dirfd-prefixed R/W.
  enum class AtClue { kNone, kWhenPrefixed };
  void EmitOpen(pid_t tid, pid_t tgid, int dirfd, uint64_t path_addr, uint64_t flags, AtClue clue);
  // `N tgid path` unless this process said it already.
  void EmitProbe(pid_t tid, pid_t tgid, int dirfd, uint64_t path_addr);
  // The probe of a failed `call`, if it is one; true when the failure is fully handled.
  bool OnProbeFailure(pid_t tid, pid_t tgid, const PendingCall& call, int64_t rval);

  TraceOptions options_;
  RecordSink* sink_;
  std::unique_ptr<Scratch> scratch_;
  path_rules::ProbeMemory probed_;
};

}  // namespace ptrace_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_DECODER_H_
