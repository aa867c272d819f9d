// File: filemon/backends/preload/environment.h
//
// The environment every exec and spawn of a traced process passes on: the program's own
// entries without our variables, then LD_PRELOAD (this library first, the program's own
// libraries after it) and our variables (launch_protocol.h) with this process's values. A
// program that clears or replaces its environment thus keeps being traced.
//
// Built in fixed room on the stack (WithExecEnvironment), never in memory sized by what the
// program passes: an environment too large for it is passed on unchanged, and the log says so.
// Allocates nothing; safe in a vfork child and between fork and exec. libc-only.
//
// Example:
//   return WithExecEnvironment(EnvRequest{envp},
//                              [&](char** env) { return real_execve(path, argv, env); });

#ifndef FILEMON_BACKENDS_PRELOAD_ENVIRONMENT_H_
#define FILEMON_BACKENDS_PRELOAD_ENVIRONMENT_H_

#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/user_memory.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// What a process created inside glibc learns from its parent (launch_protocol.h).
struct ChildStart {
  uint32_t token;       // 0: the parent writes no F of its own
  const char* actions;  // encoded file actions, or nullptr
};

// The values of our variables: this process's (CurrentVariables()), or a test's.
struct OurVariables {
  const char* lib_path = "";     // this library: LD_PRELOAD's first entry
  int fd = -1;                   // FILEMON_PRELOAD_FD
  int pipe = -1;                 // FILEMON_PRELOAD_PIPE; -1: none
  int pid = 0;                   // FILEMON_PRELOAD_PID
  const char* socket_name = "";  // FILEMON_PRELOAD_SOCKET; "": none (so for the others)
  const char* options = "";      // FILEMON_PRELOAD_OPTIONS
  const char* helper = "";       // FILEMON_PRELOAD_HELPER
  const char* locale_shm = "";   // FILEMON_PRELOAD_LOCALE_SHM
  const char* locale = "";       // FILEMON_PRELOAD_LOCALE: the setlocale cache's text
  size_t locale_size = 0;        // its bytes (0: none)
};

// This process's values (interposer_state.h, locale_cache.h).
OurVariables CurrentVariables();

// How much of our environment an exec or spawn passes on. The kernel refuses an exec whose
// argv and environment exceed its limit (E2BIG), and our variables count too: a program that
// fits untraced may not fit traced. The wrappers then try again with less, in this order.
enum class EnvLevel : unsigned char {
  kFull,           // every variable
  kWithoutCaches,  // without the setlocale cache (FILEMON_PRELOAD_LOCALE and _LOCALE_SHM),
                   // which only saves work: the program is traced as fully
  kUntraced,       // none of our variables and this library out of LD_PRELOAD: the program's
                   // own environment as it would be without filemon; it runs untraced
};

// Whether an environment is known to be readable (user_memory.h).
enum class EnvCheck : unsigned char {
  kUnchecked,  // WithExecEnvironment checks it first
  kReadable,   // the caller checked it
};

// What one exec or spawn asks for.
struct EnvRequest {
  char* const* envp;  // the program's environment (may be nullptr)
  // False: without this library in LD_PRELOAD (for auto's ptrace helper, whose subtree ptrace
  // sees); the program's own LD_PRELOAD entries are kept.
  bool preload = true;
  const char* exec_path = nullptr;    // FILEMON_PRELOAD_EXEC: execveat/fexecve's program
  const ChildStart* child = nullptr;  // a process created inside glibc: what its start writes
  EnvLevel level = EnvLevel::kFull;
  EnvCheck check = EnvCheck::kUnchecked;
};

// The most entries FixEnvironment adds (LD_PRELOAD and our variables), plus the null.
inline constexpr size_t kOurEnvEntries = 13;

// Writes the environment for a new program to `out` (room for CountEntries(request.envp) +
// kOurEnvEntries entries), its new strings to `scratch`. The first string that does not fit
// in `scratch_size` bytes, and every one after it, is left out (EnvScratchSize() bytes always
// suffice).
void FixEnvironment(const EnvRequest& request, const OurVariables& ours, char** out, char* scratch,
                    size_t scratch_size);

// True if `envp` is the environment another trace's session prepared for process `pid`
// between its fork and exec (launch_protocol.h, "Nested traces"): it names `pid` in
// FILEMON_PRELOAD_SESSION and a channel other than ours (`fd`, `pipe`: our socket and pipe).
// That exec hands `pid` over to the session, with `envp` as it is. The session's own command,
// which starts with that environment and execs again in the same pid, names its own channel.
bool PreparedForSession(char* const* envp, long pid, int fd, int pipe);

// The bytes FixEnvironment needs in `scratch` for these arguments (an upper bound).
size_t EnvScratchSize(const EnvRequest& request, const OurVariables& ours);

// The environments the exec and spawn wrappers build live in fixed room on the stack, not in
// arrays sized by what the program passes (an environment of 100,000 entries would otherwise
// take 800 KiB of a thread's stack): room for the usual environment and, only when that is
// too small, a large room in a frame of its own. So the wrappers fit a small thread stack, and
// an exec touches few stack pages: a page a process touches for the first time costs a page
// fault, and a forked child touches each one anew before its exec.
inline constexpr size_t kMaxEnvEntries = 1024;
inline constexpr size_t kEnvScratch = 16 * 1024;
inline constexpr size_t kUsualEnvEntries = 192;
inline constexpr size_t kUsualEnvScratch = 2560;

// Writes a comment to the log: an environment of `entries` entries is passed on unchanged
// (`what`: the program, or nullptr).
void SayEnvironmentUnchanged(const char* what, size_t entries);

// Calls `fn(char** envp)` with FixEnvironment's environment for `request`, built in room for
// kEntries entries and kScratch bytes of new strings, which the caller checked it fits.
template <size_t kEntries, size_t kScratch, typename Fn>
__attribute__((noinline)) auto WithEnvironmentIn(const EnvRequest& request,
                                                 const OurVariables& ours, Fn& fn)
    -> decltype(fn(nullptr)) {
  char* entries[kEntries];
  char scratch[kScratch];
  FixEnvironment(request, ours, entries, scratch, sizeof(scratch));
  return fn(entries);
}

// Calls `fn(char** envp)` with the environment an exec or spawn wrapper passes: FixEnvironment's
// for `request` with this process's values, or, for one with more entries than kMaxEnvEntries
// or new strings beyond kEnvScratch, the program's own, unchanged, and the log says so:
// nothing is allocated. An environment the kernel cannot read (its array or one of its
// strings) is passed on as it is, unread: the kernel refuses the exec (EFAULT) as untraced.
template <typename Fn>
auto WithExecEnvironment(const EnvRequest& request, Fn fn) -> decltype(fn(nullptr)) {
  if (request.check == EnvCheck::kUnchecked && !ReadableStrings(request.envp)) {
    return fn(const_cast<char**>(request.envp));
  }
  const OurVariables ours = CurrentVariables();
  const size_t entries = CountEntries(request.envp) + kOurEnvEntries;
  const size_t scratch = EnvScratchSize(request, ours);
  if (entries <= kUsualEnvEntries && scratch <= kUsualEnvScratch) {
    return WithEnvironmentIn<kUsualEnvEntries, kUsualEnvScratch>(request, ours, fn);
  }
  if (entries <= kMaxEnvEntries && scratch <= kEnvScratch) {
    return WithEnvironmentIn<kMaxEnvEntries, kEnvScratch>(request, ours, fn);
  }
  SayEnvironmentUnchanged(request.exec_path, entries - kOurEnvEntries);
  return fn(const_cast<char**>(request.envp));
}

// Calls `start(char** envp)`, an exec or spawn returning 0 or an errno value, once more after it
// failed with E2BIG at EnvLevel::kFull: with `request` at kWithoutCaches. Returns its result;
// E2BIG again means that only EnvLevel::kUntraced is left, which the caller must announce in
// the log first. Out of line: the wrappers' usual path does not pay for it.
template <typename Fn>
__attribute__((noinline, cold)) int RetryWithoutCaches(EnvRequest request, Fn start) {
  request.level = EnvLevel::kWithoutCaches;
  return WithExecEnvironment(request, start);
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_ENVIRONMENT_H_
