// The wrappers of the libc functions that create a process and exec in it inside glibc:
// posix_spawn and posix_spawnp (and the shell of system and popen, wrappers_shell.cc). The child's
// start writes its F with the parent and token its parent passed in the environment
// (launch_protocol.h); the parent writes its own F when it does not wait (process_creation.h).

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/environment.h"
#include "filemon/backends/preload/exec.h"
#include "filemon/backends/preload/exec_argv.h"
#include "filemon/backends/preload/exec_probe.h"
#include "filemon/backends/preload/interposer_probes.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/process_creation.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/spawn_actions.h"
#include "filemon/backends/preload/untraced.h"
#include "filemon/backends/preload/user_memory.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/path_search.h"

namespace filemon {
namespace preload_internal {
namespace {

DECLARE_REAL(posix_spawn, int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                                  const posix_spawnattr_t*, char* const[], char* const[]));
DECLARE_REAL(posix_spawnp, int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                                   const posix_spawnattr_t*, char* const[], char* const[]));

// What the parent of a spawn decided: the program, and who writes what.
struct SpawnPlan {
  const char* path;     // the program (after posix_spawnp's search)
  ExecProbe probe;      // what the loader will make of it
  bool probed;          // `probe` is known already (posix_spawnp's search judged `path`)
  bool helper;          // auto's ptrace helper runs it
  bool child_starts;    // the interposer (or the helper) starts in the child: it writes F
  bool actions_in_env;  // the encoded actions fit in the child's environment
  // The program runs untraced (untraced.h): `why`, for the errno value `why_error`.
  bool untraced;
  UntracedWhy why;
  int why_error;
};

// The path of a program for posix_spawnp: the first PATH entry where it is executable and
// present, judged into `plan->probe` on the way: an entry whose exec fails with ENOENT or
// ENOTDIR (the program is absent, or the interpreter of its `#!` line: the kernel says ENOENT
// for both) is passed over, as glibc's child tries it with execve and goes on. With `misses`
// (probes are recorded), those entries are appended there as 'N' actions: the probes ptrace
// sees.
bool SearchPath(const char* file, char* out, size_t size, ByteAppender* misses, SpawnPlan* plan) {
  if (IsPathName(file)) return false;
  return !ForEachSearchCandidate(getenv("PATH"), file, out, size, [&](const char* path) {
    const long rc = RawSyscall4(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0);
    bool absent = rc == -ENOENT || rc == -ENOTDIR;
    if (rc == 0) {
      plan->probe = ProbeExecutable(path);
      absent = plan->probe.absent;
      plan->probed = !absent;
    }
    if (absent && misses != nullptr) AppendSpawnAction(*misses, 'N', path, Length(path));
    return rc != 0 || absent;
  });
}

using SpawnFn = int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                        const posix_spawnattr_t*, char* const[], char* const[]);

// posix_spawn of the ptrace helper in place of `path`; the helper's argv is in a frame of its
// own, which only this rare spawn pays for.
__attribute__((noinline)) int SpawnHelper(pid_t* child, const char* path,
                                          const posix_spawn_file_actions_t* actions,
                                          const posix_spawnattr_t* attr, char* const argv[],
                                          const EnvRequest& request) {
  ArgvRoom helper_argv(HelperArgvEntries(argv));
  if (helper_argv.args() == nullptr) return ENOMEM;
  BuildHelperArgv(g_helper, path, argv, helper_argv.args());
  auto spawn = [&](char** env) {
    return REAL(posix_spawn)(child, g_helper, actions, attr,
                             const_cast<char* const*>(helper_argv.args()), env);
  };
  const int rc = WithExecEnvironment(request, spawn);
  return rc == E2BIG ? RetryWithoutCaches(request, spawn) : rc;
}

// Plans the spawn of `plan->path` with `argv`: whether the helper runs it, whether it runs
// untraced, and whether the child starts; then the file actions and the PATH entries missed
// (`missed`) are encoded into `encoded` (of `encoded_size` bytes) for the child's start.
void PlanSpawn(SpawnPlan* plan, char* const argv[], const posix_spawn_file_actions_t* actions,
               const ByteAppender& misses, const char* missed, char* encoded, size_t encoded_size) {
  if (!plan->probed) plan->probe = ProbeExecutable(plan->path);
  const bool unpreloadable = IsUnpreloadable(plan->probe);
  plan->helper = unpreloadable && HelperTakes(plan->probe);
  plan->why = UntracedWhy::kLibraryDenied;
  plan->why_error = unpreloadable ? 0 : LibraryAccessError(g_lib_path);
  plan->untraced = plan->why_error != 0;
  plan->child_starts = (!unpreloadable || plan->helper) && !plan->untraced;
  ByteAppender encoder(encoded, encoded_size - 1);
  if (plan->child_starts) EncodeSpawnActions(actions, &encoder);
  if (plan->child_starts && !misses.overflow()) encoder.Append(missed, misses.size());
  plan->actions_in_env = plan->child_starts && !encoder.overflow();
  encoded[plan->actions_in_env ? encoder.size() : 0] = '\0';
}

// Spawns by `plan` with `request`'s environment: `spawn_helper(request)` runs the helper,
// `spawn(env)` the program. A spawn that the kernel refuses with our variables (E2BIG) is tried
// with fewer, then untraced (`plan` then says so). Returns as posix_spawn does.
template <typename HelperFn, typename ProgramFn>
int SpawnByPlan(SpawnPlan* plan, EnvRequest* request, HelperFn spawn_helper, ProgramFn spawn) {
  int rc = plan->helper ? spawn_helper(*request) : WithExecEnvironment(*request, spawn);
  if (rc == E2BIG && !plan->helper && !plan->untraced) rc = RetryWithoutCaches(*request, spawn);
  if (rc == E2BIG && !plan->untraced) {  // the program itself, untraced: it may fit
    plan->why = UntracedWhy::kNoRoom;
    plan->why_error = E2BIG;
    plan->untraced = true;
    request->level = EnvLevel::kUntraced;
    rc = WithExecEnvironment(*request, spawn);
  }
  return rc;
}

// The parent's records once the spawn of `child` succeeded: F, and what the child cannot
// write (the file actions and probes not in its environment; E for a program it cannot enter;
// the note of a program run untraced).
void RecordSpawned(const SpawnPlan& plan, pid_t child, uint32_t token,
                   const posix_spawn_file_actions_t* actions, const ByteAppender& misses,
                   char* missed) {
  BatchMessage m;
  const bool parent_writes_actions = !plan.actions_in_env || plan.untraced;
  m.AddFork(Pid(), child, plan.child_starts && !plan.untraced ? token : 0);
  if (parent_writes_actions) RecordSpawnFileActions(&m, child, actions);
  if (parent_writes_actions && !misses.overflow() && misses.size() > 0) {
    missed[misses.size()] = '\0';
    AddSpawnActions(&m, child, missed);
  }
  if (!plan.child_starts && !plan.untraced) {
    m.AddComment(plan.path, " is ", ExecKindReason(plan.probe.kind), ": ",
                 ExecKindLoss(plan.probe.kind));
    m.AddExecPath(WireKind::kExec, child, plan.path);
    m.AddUnenterable(child);
  }
  m.Send();
  if (plan.untraced) SayRunsUntraced(child, plan.path, plan.why, plan.why_error);
}

// The probes of a spawn that failed. Its exec failed in glibc's child (or a file action did),
// which exits at once and is reaped inside posix_spawn: its pid is never known here, so the
// lookups its exec made are written as the parent's: the PATH entries posix_spawnp's child
// tried, or the program when it (or its interpreter) is absent. Each path is absent, so that a
// spawn that failed before its exec (a file action) at worst names a path that is not there.
__attribute__((noinline, cold)) void RecordFailedSpawn(const SpawnPlan& plan, bool searched,
                                                       const ByteAppender& misses, char* missed) {
  if (!searched) {
    if (plan.probe.absent) SendProbe(AT_FDCWD, plan.path);
    return;
  }
  if (misses.overflow() || misses.size() == 0) return;
  missed[misses.size()] = '\0';
  BatchMessage m;
  AddSpawnActions(&m, Pid(), missed);
  m.Send();
}

// A spawn that failed (`error`) with file actions ptrace would record (an open, a chdir): if
// glibc's child failed at one of them or at its exec, the actions before it ran, but that
// child's pid is never known here (glibc reaps it inside posix_spawn), so its records (F, what
// its actions did, X) cannot be written: the log says they are missing. Not after EAGAIN or
// ENOMEM, with which glibc fails when it cannot map the child's stack or clone it: no child
// ran (a child's exec or open failing with ENOMEM is not told apart, and goes unsaid).
__attribute__((noinline, cold)) void SayIfFailedSpawnsChildIsMissing(
    const char* path, const posix_spawn_file_actions_t* actions, int error) {
  if (error == EAGAIN || error == ENOMEM) return;
  bool recorded = false;
  ForEachSpawnAction(actions, [&](char, const char*, int) { recorded = true; });
  if (recorded) SayFailedSpawnsChildIsMissing(Pid(), path, error);
}

// A nested trace's session prepared this process (launch_protocol.h, "Nested traces"): the
// program is spawned with that session's environment as it is, into the inner log, which
// also has this process's X; this log gets a comment, and neither F nor the file actions. A
// spawn that failed gets a second comment: its program is in neither log.
__attribute__((noinline, cold)) int SpawnHandedOver(SpawnFn real, pid_t* pid, const char* file,
                                                    const posix_spawn_file_actions_t* actions,
                                                    const posix_spawnattr_t* attr,
                                                    char* const argv[], char* const envp[]) {
  const char* named = ReadableString(file) ? file : nullptr;
  BeginHandOver(HandOverBy::kSpawn, named);
  const int rc = real(pid, file, actions, attr, argv, envp);
  EndHandOver();
  if (rc != 0) SayHandedOverSpawnFailed(static_cast<int>(RawSyscall0(SYS_getpid)), named, rc);
  return rc;
}

// The spawned program's start writes its F and its file actions' records when the interposer
// (or, in auto, the ptrace helper) runs in it; the parent writes its own F as soon as the spawn
// returned, and writes the actions itself only when the child cannot (or they did not fit).
int SpawnImpl(SpawnFn real, bool search, pid_t* pid, const char* file,
              const posix_spawn_file_actions_t* actions, const posix_spawnattr_t* attr,
              char* const argv[], char* const envp[]) {
  if (!Active()) return real(pid, file, actions, attr, argv, envp);
  // An environment the kernel cannot read is passed on unread: the spawn fails (EFAULT).
  if (!ReadableStrings(envp)) return real(pid, file, actions, attr, argv, envp);
  if (HandsOver(envp)) return SpawnHandedOver(real, pid, file, actions, attr, argv, envp);
  char found[4096];
  SpawnPlan plan{};
  plan.path = file;
  char missed[2048];  // the PATH entries before `found`, when probes are recorded
  ByteAppender misses(missed, sizeof(missed) - 1);
  if (search && SearchPath(file, found, sizeof(found), ProbesWanted() ? &misses : nullptr, &plan)) {
    plan.path = found;
  }
  char encoded[8192];
  PlanSpawn(&plan, argv, actions, misses, missed, encoded, sizeof(encoded));
  const ChildStart start{NextToken(), encoded};
  EnvRequest request{envp, /*preload=*/!plan.helper, nullptr, plan.child_starts ? &start : nullptr};
  if (plan.untraced) request.level = EnvLevel::kUntraced;
  request.check = EnvCheck::kReadable;
  pid_t child = 0;
  g_creations_in_flight.fetch_add(1, std::memory_order_acq_rel);
  const int rc = SpawnByPlan(
      &plan, &request,
      [&](const EnvRequest& r) { return SpawnHelper(&child, plan.path, actions, attr, argv, r); },
      [&](char** env) { return real(&child, file, actions, attr, argv, env); });
  if (pid != nullptr) *pid = child;
  if (rc == 0) RecordSpawned(plan, child, start.token, actions, misses, missed);
  if (rc != 0 && ProbesWanted()) {
    RecordFailedSpawn(plan, search && !IsPathName(file), misses, missed);
  }
  if (rc != 0 && actions != nullptr) SayIfFailedSpawnsChildIsMissing(plan.path, actions, rc);
  g_creations_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  return rc;
}

}  // namespace

int SpawnShell(pid_t* pid, const char* command, const posix_spawn_file_actions_t* actions,
               const posix_spawnattr_t* attr, char* const envp[]) {
  // glibc 2.36's argv; later ones add "--", which a command at the kernel's limit may not have
  // room for.
  char sh[] = "sh", c[] = "-c";
  char* const argv[] = {sh, c, const_cast<char*>(command), nullptr};
  return SpawnImpl(REAL(posix_spawn), false, pid, "/bin/sh", actions, attr, argv, envp);
}

}  // namespace preload_internal
}  // namespace filemon

// ---------------------------------------------------------------------------------------------
// The interposed entry points (exported; see interposer.lds).

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

FILEMON_EXPORT int posix_spawn(pid_t* pid, const char* path,
                               const posix_spawn_file_actions_t* actions,
                               const posix_spawnattr_t* attr, char* const argv[],
                               char* const envp[]) {
  return SpawnImpl(REAL(posix_spawn), false, pid, path, actions, attr, argv, envp);
}

FILEMON_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                                const posix_spawn_file_actions_t* actions,
                                const posix_spawnattr_t* attr, char* const argv[],
                                char* const envp[]) {
  return SpawnImpl(REAL(posix_spawnp), true, pid, file, actions, attr, argv, envp);
}
