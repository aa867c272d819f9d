// libfilemon_preload.so: the interposer loaded into every traced process with LD_PRELOAD.
//
// It wraps the libc entry points that reach the file system calls the ptrace backend records
// (see README.md, "The preload backend and auto"), calls the real function, and for each call
// that succeeded sends one message of wire records (wire_format.h) to the supervisor: one
// `write` to the inherited pipe when it fits in PIPE_BUF, else one send on the inherited
// `SOCK_SEQPACKET` socket followed by a small marker in the pipe that keeps its place. Process
// creations write F from both sides with a token, the supervisor keeps the first (wire_format.h,
// "Order"; launch_protocol.h for processes created inside glibc).
//
// Contracts that every wrapper keeps:
// - The traced program sees the same results and `errno` as untraced: our own work uses raw
//   system calls (raw_syscall.h), which never touch `errno`.
// - Hot path (open/openat/fopen/rename/...): no allocation, no lock, no system call beyond the
//   one `write` of the message; the pid is cached per thread (the kernel's getpid is a system
//   call since glibc 2.25). Only a relative path with a real dirfd costs one more call
//   (`readlink` of /proc/self/fd/N), as does `--absolute` (`getcwd`).
// - Async-signal-safe and vfork-safe: messages are built in small buffers on the stack; a
//   vfork child only caches its pid in the suspended parent's thread slot, which the parent
//   clears again.
// - A process's start costs little: every traced process pays for it (see Init).
// - Inactive (pure pass-through) unless FILEMON_PRELOAD_FD is set.
//
// The library's units, each libc-only: interposer_state.h (the process's state), channel.h and
// message.h (what is sent, and how), path_rule.h, records.h (one call's records), environment.h
// (what exec and spawn pass on), locale_cache.h and libc_window.h (files libc opens
// internally), close_ranges.h, directory_list.h, interposer_probes.h (N records),
// wrappers_libc.cc (the wrappers of libc's internal opens); this file holds the process start
// and the remaining wrappers.

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <iconv.h>
#include <limits.h>
#include <link.h>
#include <locale.h>
#include <pthread.h>
#include <pty.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "filemon/backends/preload/channel.h"
#include "filemon/backends/preload/close_ranges.h"
#include "filemon/backends/preload/directory_list.h"
#include "filemon/backends/preload/environment.h"
#include "filemon/backends/preload/exec_probe.h"
#include "filemon/backends/preload/interposer_probes.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/libc_window.h"
#include "filemon/backends/preload/locale_cache.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/path_rule.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/records.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/untraced.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/open_rule.h"
#include "filemon/core/path_search.h"

#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern "C" char** environ;

namespace filemon {
namespace preload_internal {
namespace {

// Zero-initialized data that most processes never write. The loader zeroes .bss up to the end
// of the page where the file's data ends, which it touches anyway; .bss beyond that page is
// fresh memory, and its first write in each process is a page fault. So .bss must stay within
// that page (interposer_layout_test checks it), and what is rarely written goes after it, in .lbss
// (x86-64's large-data .bss, which the linker places after .bss).
#if defined(__x86_64__)
#define FILEMON_COLD_BSS __attribute__((section(".lbss")))
#else
#define FILEMON_COLD_BSS
#endif
#define FILEMON_STRINGIFY_(x) #x
#define FILEMON_STRINGIFY(x) FILEMON_STRINGIFY_(x)

DECLARE_REAL(open, int (*)(const char*, int, ...));
DECLARE_REAL(open64, int (*)(const char*, int, ...));
DECLARE_REAL(__open_2, int (*)(const char*, int));
DECLARE_REAL(__open64_2, int (*)(const char*, int));
DECLARE_REAL(openat, int (*)(int, const char*, int, ...));
DECLARE_REAL(openat64, int (*)(int, const char*, int, ...));
DECLARE_REAL(__openat_2, int (*)(int, const char*, int));
DECLARE_REAL(__openat64_2, int (*)(int, const char*, int));
DECLARE_REAL(creat, int (*)(const char*, mode_t));
DECLARE_REAL(creat64, int (*)(const char*, mode_t));
DECLARE_REAL(fopen, FILE* (*)(const char*, const char*));
DECLARE_REAL(fopen64, FILE* (*)(const char*, const char*));
DECLARE_REAL(freopen, FILE* (*)(const char*, const char*, FILE*));
DECLARE_REAL(freopen64, FILE* (*)(const char*, const char*, FILE*));
DECLARE_REAL(opendir, DIR* (*)(const char*));
DECLARE_REAL(mkstemp, int (*)(char*));
DECLARE_REAL(mkstemp64, int (*)(char*));
DECLARE_REAL(mkostemp, int (*)(char*, int));
DECLARE_REAL(mkostemp64, int (*)(char*, int));
DECLARE_REAL(mkstemps, int (*)(char*, int));
DECLARE_REAL(mkstemps64, int (*)(char*, int));
DECLARE_REAL(mkostemps, int (*)(char*, int, int));
DECLARE_REAL(mkostemps64, int (*)(char*, int, int));
DECLARE_REAL(rename, int (*)(const char*, const char*));
DECLARE_REAL(renameat, int (*)(int, const char*, int, const char*));
DECLARE_REAL(renameat2, int (*)(int, const char*, int, const char*, unsigned));
DECLARE_REAL(link, int (*)(const char*, const char*));
DECLARE_REAL(linkat, int (*)(int, const char*, int, const char*, int));
DECLARE_REAL(symlink, int (*)(const char*, const char*));
DECLARE_REAL(symlinkat, int (*)(const char*, int, const char*));
DECLARE_REAL(unlink, int (*)(const char*));
DECLARE_REAL(unlinkat, int (*)(int, const char*, int));
DECLARE_REAL(rmdir, int (*)(const char*));
DECLARE_REAL(chdir, int (*)(const char*));
DECLARE_REAL(fchdir, int (*)(int));
DECLARE_REAL(execve, int (*)(const char*, char* const[], char* const[]));
DECLARE_REAL(fexecve, int (*)(int, char* const[], char* const[]));
DECLARE_REAL(posix_spawn, int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                                  const posix_spawnattr_t*, char* const[], char* const[]));
DECLARE_REAL(posix_spawnp, int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                                   const posix_spawnattr_t*, char* const[], char* const[]));
DECLARE_REAL(fork, pid_t (*)());
DECLARE_REAL(daemon, int (*)(int, int));
DECLARE_REAL(forkpty, pid_t (*)(int*, char*, const struct termios*, const struct winsize*));
DECLARE_REAL(_Fork, pid_t (*)());
DECLARE_REAL(clone, int (*)(int (*)(void*), void*, int, void*, ...));
DECLARE_REAL(_exit, void (*)(int));
DECLARE_REAL(_Exit, void (*)(int));
DECLARE_REAL(syscall, long (*)(long, ...));
DECLARE_REAL(dlopen, void* (*)(const char*, int));
DECLARE_REAL(waitpid, pid_t (*)(pid_t, int*, int));
DECLARE_REAL(wait4, pid_t (*)(pid_t, int*, int, struct rusage*));
DECLARE_REAL(waitid, int (*)(idtype_t, id_t, siginfo_t*, int));
DECLARE_REAL(close, int (*)(int));
DECLARE_REAL(close_range, int (*)(unsigned, unsigned, int));
DECLARE_REAL(closefrom, void (*)(int));
DECLARE_REAL(dup2, int (*)(int, int));
DECLARE_REAL(dup3, int (*)(int, int, int));
DECLARE_REAL(system, int (*)(const char*));
DECLARE_REAL(popen, FILE* (*)(const char*, const char*));
DECLARE_REAL(tmpfile, FILE* (*)());
DECLARE_REAL(tmpfile64, FILE* (*)());

// ---------------------------------------------------------------------------------------------
// Process start: E, the loader's opens, and F for a process created behind our back.

// True if `info`'s object holds this library's code; notes its text and path the first time.
bool IsThisLibrary(const struct dl_phdr_info* info) {
  const uintptr_t self = reinterpret_cast<uintptr_t>(&IsThisLibrary);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (self < start || self - start >= ph.p_memsz) continue;
    if (g_lib_path[0] == '\0' && info->dlpi_name != nullptr) {
      g_lib_path = info->dlpi_name;  // the loader's, for as long as the library is loaded
      NoteOwnText(start, ph.p_memsz);
    }
    return true;
  }
  return false;
}

struct LoadedObjects {
  BatchMessage* message = nullptr;  // nullptr: the first walk, which only looks
  int pid = 0;
  int skip = 0;  // objects to skip (already reported)
  int index = 0;
  bool used_cache = false;
  const char* interp = nullptr;        // the dynamic loader, mapped by the kernel (no open)
  const char* library_path = nullptr;  // LD_LIBRARY_PATH
};

int VisitObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* objects = static_cast<LoadedObjects*>(data);
  int index = objects->index++;
  if (index < objects->skip) return 0;
  const char* name = info->dlpi_name;
  // The main program (""), the vDSO (no '/'), the loader and this library are not opened by
  // the loader on the program's behalf.
  if (name == nullptr || name[0] == '\0') return 0;
  bool has_slash = false;
  for (const char* p = name; *p != '\0'; ++p) has_slash |= (*p == '/');
  if (!has_slash) return 0;
  if (objects->interp != nullptr && strcmp(name, objects->interp) == 0) return 0;
  if (IsThisLibrary(info)) return 0;
  if (objects->message == nullptr) {
    if (IsSystemLibraryDir(name) && !InDirectoryList(name, objects->library_path)) {
      objects->used_cache = true;
    }
    return 0;
  }
  objects->message->Add(WireKind::kRead, objects->pid, AT_FDCWD, name);
  return 0;
}

// The main program's PT_INTERP string.
const char* InterpreterOf() {
  auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(getauxval(AT_PHDR));
  size_t phnum = getauxval(AT_PHNUM);
  if (phdr == nullptr) return nullptr;
  uintptr_t base = 0;
  for (size_t i = 0; i < phnum; ++i) {
    if (phdr[i].p_type == PT_PHDR) base = reinterpret_cast<uintptr_t>(phdr) - phdr[i].p_vaddr;
  }
  for (size_t i = 0; i < phnum; ++i) {
    if (phdr[i].p_type == PT_INTERP) return reinterpret_cast<const char*>(base + phdr[i].p_vaddr);
  }
  return nullptr;
}

// Appends the loader's opens of the objects loaded after the first `skip` ones (the cache,
// then each library), as the ptrace backend sees them. The first walk also finds this library
// (g_lib_path, the syscall windows' text).
void RecordLoadedObjects(BatchMessage* m, int skip, const char* library_path) {
  LoadedObjects objects;
  objects.pid = Pid();
  objects.skip = skip;
  objects.interp = InterpreterOf();
  objects.library_path = library_path;
  dl_iterate_phdr(VisitObject, &objects);
  if (objects.used_cache) m->Add(WireKind::kRead, objects.pid, AT_FDCWD, "/etc/ld.so.cache");
  objects.message = m;
  objects.index = 0;
  dl_iterate_phdr(VisitObject, &objects);
}

int CountLoadedObjects() {
  int count = 0;
  dl_iterate_phdr(
      [](struct dl_phdr_info*, size_t, void* data) { return ++*static_cast<int*>(data), 0; },
      &count);
  return count;
}

void OnExit(int status, void*) { RecordExit(status); }

// A new process's own state: nothing created yet, no exit written.
void ResetCreations() {
  g_creations.store(0, std::memory_order_relaxed);
  g_creations_in_flight.store(0, std::memory_order_relaxed);
  g_exit_recorded.store(0, std::memory_order_relaxed);
}

// The child's side of fork (and of _Fork and a raw clone): its F with the token of the
// creation this thread was in (0 for a fork that did not pass through CreateProcess).
void OnForkChild() {
  t_forking = false;
  const uint32_t token = t_fork_token;
  t_fork_token = 0;
  if (!Active()) return;
  int parent = g_pid.load(std::memory_order_relaxed);
  int self = static_cast<int>(RawSyscall0(SYS_getpid));
  g_pid.store(self, std::memory_order_relaxed);
  t_pid = self;
  ResetCreations();
  ResetSyscallWindowAfterFork();
  ForgetProbesInChild();
  Message m;
  m.AddFork(parent, self, token);
  m.Send();
}

uint32_t NextToken() {
  uint32_t token;
  do {
    token = g_creations.fetch_add(1, std::memory_order_relaxed) + 1;
  } while (token == 0);
  return token;
}

void SendFork(int parent, int child, uint32_t token) {
  Message m;
  m.AddFork(parent, child, token);
  m.Send();
}

// Runs `create` (fork-like: the child's pid in the parent, 0 in the child, where OnForkChild
// ran inside it) as a creation with a token; the parent writes its F as soon as `create`
// returned.
template <typename Fn>
auto CreateProcess(Fn create) -> decltype(create()) {
  const uint32_t token = NextToken();
  const uint32_t outer = t_fork_token;
  t_fork_token = token;
  g_creations_in_flight.fetch_add(1, std::memory_order_acq_rel);
  const auto r = create();
  if (r == 0) return r;  // the child
  t_fork_token = outer;
  if (r > 0) SendFork(Pid(), static_cast<int>(r), token);
  g_creations_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  return r;
}

void OnForkPrepare() { t_forking = true; }
void OnForkParent() { t_forking = false; }

// fork's atfork handlers are registered at a process's first fork, not at its start:
// pthread_atfork touches two libc pages that a process which never forks (most of a build's)
// would not, a page fault each. Every way to libc's fork passes here first: fork, and the
// two libc functions that call it internally, daemon and forkpty (the third caller, sunrpc's
// keyenvoy helper, is obsolete). Handlers registered by the program before that run in the
// child before ours; t_forking gives their records the child's pid (they precede its F).
std::atomic<int> g_fork_handlers{0};  // 0: none; 1: being registered; 2: registered

void EnsureForkHandlers() {
  if (g_fork_handlers.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  if (g_fork_handlers.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    pthread_atfork(OnForkPrepare, OnForkParent, OnForkChild);
    g_fork_handlers.store(2, std::memory_order_release);
    return;
  }
  while (g_fork_handlers.load(std::memory_order_acquire) != 2) sched_yield();
}

// The records of posix_spawn's file actions encoded in `text` (launch_protocol.h), under `pid`.
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

// The variables the start reads, found in one walk of the environment (getenv would walk it
// once per name).
struct StartEnvironment {
  const char* fd = nullptr;
  const char* pipe = nullptr;
  const char* pid = nullptr;
  const char* socket = nullptr;
  const char* options = nullptr;
  const char* helper = nullptr;
  const char* exec = nullptr;
  const char* locale = nullptr;
  const char* locale_shm = nullptr;
  const char* library_path = nullptr;  // LD_LIBRARY_PATH
  const char* token = nullptr;         // launch_protocol.h
  const char* actions = nullptr;
};

StartEnvironment ReadStartEnvironment() {
  static const char* const kNames[] = {kEnvFd,        kEnvPipe,          kEnvPid,   kEnvSocket,
                                       kEnvOptions,   kEnvHelper,        kEnvExec,  kEnvLocale,
                                       kEnvLocaleShm, "LD_LIBRARY_PATH", kEnvToken, kEnvActions};
  const char* v[sizeof(kNames) / sizeof(kNames[0])];
  EnvValues(environ, kNames, sizeof(kNames) / sizeof(kNames[0]), v);
  StartEnvironment env;
  env.fd = v[0];
  env.pipe = v[1];
  env.pid = v[2];
  env.socket = v[3];
  env.options = v[4];
  env.helper = v[5];
  env.exec = v[6];
  env.locale = v[7];
  env.locale_shm = v[8];
  env.library_path = v[9];
  env.token = v[10];
  env.actions = v[11];
  return env;
}

// The start of a traced process. Every process pays for it, so it stays lean: one walk of the
// environment, a few system calls, one message, and no stack or library page that an untraced
// start would not touch anyway where that can be helped (page faults are its largest cost).
void Init() {
  const StartEnvironment env = ReadStartEnvironment();
  long fd = -1;
  if (!ParseInt(env.fd, &fd)) return;
  int pid = static_cast<int>(RawSyscall0(SYS_getpid));
  g_pid.store(pid, std::memory_order_relaxed);
  t_pid = pid;
  if (env.socket != nullptr) CopyString(env.socket, g_socket_name, sizeof(g_socket_name));
  if (env.options != nullptr) {
    CopyString(env.options, g_options, sizeof(g_options));
    const unsigned options = ParseLaunchOptions(env.options);
    g_absolute = (options & kOptionAbsolutePaths) != 0;
    g_auto = (options & kOptionAuto) != 0;
    g_probes = (options & kOptionProbes) != 0;
  }
  if (env.helper != nullptr) CopyString(env.helper, g_helper, sizeof(g_helper));
  if (env.locale_shm != nullptr) {
    CopyString(env.locale_shm, g_locale_shm_path, sizeof(g_locale_shm_path));
  }
  LoadLocaleCache(g_locale, env.locale);
  if (IsOurSocket(static_cast<int>(fd))) {
    g_fd.store(static_cast<int>(fd), std::memory_order_relaxed);
  } else if (!Reconnect(static_cast<int>(fd))) {
    return;
  }
  long pipe = -1;
  if (ParseInt(env.pipe, &pipe) && IsOurPipe(static_cast<int>(pipe))) {
    g_pipe.store(static_cast<int>(pipe), std::memory_order_relaxed);
  }

  BatchMessage start;
  // A process created inside glibc (posix_spawn, system(), popen() clone internally): F from
  // its side with the parent and token its parent passed, then what glibc did in it before the
  // exec (launch_protocol.h). Without a token (an environment passed on by a program the
  // interposer could not enter) the parent is the kernel's.
  long exec_pid = 0;
  if (!ParseInt(env.pid, &exec_pid) || exec_pid != pid) {
    long token = 0;
    if (exec_pid > 0 && ParseInt(env.token, &token)) {
      start.AddFork(static_cast<int>(exec_pid), pid, static_cast<uint32_t>(token));
      if (env.actions != nullptr) AddSpawnActions(&start, pid, env.actions);
    } else {
      // The environment came through a program the interposer could not enter, exec'd by
      // `exec_pid`: the kernel's parent may be one of its own forks or the reaper (it exited),
      // no process of the log; the supervisor then names `exec_pid`.
      const int parent = static_cast<int>(RawSyscall0(SYS_getppid));
      const bool other = exec_pid > 0 && exec_pid != parent;
      start.AddForkWithAlternate(parent, pid, other ? static_cast<int>(exec_pid) : 0);
    }
  }
  const char* execfn = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  if (execfn != nullptr && StartsWith(execfn, "/dev/fd/") && env.exec != nullptr) {
    execfn = env.exec;  // execveat/fexecve: the path our wrapper resolved before the exec
  }
  if (execfn != nullptr) start.AddExecPath(WireKind::kExec, pid, execfn);
  RecordLoadedObjects(&start, 0, env.library_path);
  start.Send();

  on_exit(OnExit, nullptr);
}

}  // namespace

void EnsureInit() {
  int expected = 0;
  if (!g_init_state.compare_exchange_strong(expected, 1)) return;  // done or in progress
  Init();
  g_init_state.store(2, std::memory_order_release);
}

namespace {

__attribute__((constructor)) void Constructor() { EnsureInit(); }

// ---------------------------------------------------------------------------------------------
// Exec: keep our environment, detect programs the interposer cannot enter.

// A helper's or /bin/sh's argv (the program's and ours) lives in this fixed room.
constexpr size_t kMaxArgs = 1024;

// Whether the ptrace helper's argv for `argv` fits in kMaxArgs entries.
bool HelperArgvFits(char* const argv[]) { return CountEntries(argv) + 4 <= kMaxArgs; }

// Fills `out` (kMaxArgs) with the ptrace helper's argv for `path` run with `argv`
// (helper_main.cc); false if it does not fit.
bool HelperArgv(const char* path, char* const argv[], const char** out) {
  if (!HelperArgvFits(argv)) return false;
  const size_t argc = CountEntries(argv);
  size_t n = 0;
  out[n++] = g_helper;
  out[n++] = path;
  out[n++] = "--";
  for (size_t i = 0; i < argc; ++i) out[n++] = argv[i];
  out[n] = nullptr;
  return true;
}

// Before exec'ing a program the loader will not load us into: in auto mode hand it to the
// ptrace helper (which traces it in this very process id); otherwise write E now (the
// program cannot) and say why its own operations are missing.
enum class ExecPlan {
  kPreload,  // a program the loader loads this library into (or an exec that will fail)
  kHelper,   // the helper takes over (not for an argv too long for HelperArgv)
  kWithout,  // the program runs without the interposer: the log says so already
};
ExecPlan PrepareExec(const char* path, char* const argv[]) {
  ExecProbe probe = ProbeExecutable(path);
  if (probe.kind == ExecKind::kPreloadable || probe.kind == ExecKind::kUnknown) {
    return ExecPlan::kPreload;
  }
  if (RawSyscall4(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0) != 0) {
    return ExecPlan::kPreload;  // the exec will fail
  }
  if (g_auto && g_helper[0] != '\0' && probe.kind != ExecKind::kSecure && HelperArgvFits(argv)) {
    return ExecPlan::kHelper;
  }
  Message m;
  m.AddComment(path, " is ", ExecKindReason(probe.kind), ": ", ExecKindLoss(probe.kind));
  m.AddExecPath(WireKind::kExec, Pid(), path);
  m.AddUnenterable(Pid());
  m.Send();
  return ExecPlan::kWithout;
}

// Execs `path` untraced (untraced.h), with the note first if the exec can succeed. Returns -1
// with errno as execve does.
__attribute__((noinline, cold)) int ExecUntraced(const char* path, char* const argv[],
                                                 char* const envp[], UntracedWhy why, int error) {
  const bool runs =
      RawSyscall4(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0) == 0;
  if (runs) SayRunsUntraced(Pid(), path, why, error);
  EnvRequest request{envp};
  request.level = EnvLevel::kUntraced;
  const int failed = WithExecEnvironment(request, [&](char** env) {
    REAL(execve)(path, argv, env);
    return errno;
  });
  if (runs) SayUntracedExecFailed(Pid(), path, failed);
  if (!runs && path != nullptr && path[0] != '\0') OnFailedLookup(AT_FDCWD, path, failed);
  errno = failed;
  return -1;
}

// Execs the ptrace helper in place of `path` (HelperArgvFits(argv) is true); the helper's argv
// is in a frame of its own, which only this rare exec pays for.
__attribute__((noinline)) int ExecHelper(const char* path, char* const argv[], char* const envp[]) {
  const char* helper_argv[kMaxArgs];
  HelperArgv(path, argv, helper_argv);
  const EnvRequest request{envp, /*preload=*/false};
  auto exec = [&](char** env) {
    REAL(execve)(g_helper, const_cast<char* const*>(helper_argv), env);
    return errno;
  };
  int error = WithExecEnvironment(request, exec);
  if (error == E2BIG) error = RetryWithoutCaches(request, exec);
  // Not even the helper's argv fits: the program itself may, untraced.
  if (error == E2BIG) return ExecUntraced(path, argv, envp, UntracedWhy::kNoRoom, E2BIG);
  errno = error;
  return -1;
}

// An exec that the kernel refuses with our variables (E2BIG) is tried with fewer, then
// untraced (environment.h, EnvLevel); one whose program could not load this library runs
// untraced at once: the log says so in both cases (untraced.h).
int ExecveImpl(const char* path, char* const argv[], char* const envp[]) {
  if (!Active()) return REAL(execve)(path, argv, envp);
  const ExecPlan plan = PrepareExec(path, argv);
  if (plan == ExecPlan::kHelper) return ExecHelper(path, argv, envp);
  if (plan == ExecPlan::kPreload) {
    const int denied = LibraryAccessError(g_lib_path);
    if (denied != 0) return ExecUntraced(path, argv, envp, UntracedWhy::kLibraryDenied, denied);
  }
  auto exec = [&](char** env) {
    REAL(execve)(path, argv, env);
    return errno;
  };
  int error = WithExecEnvironment(EnvRequest{envp}, exec);
  if (error == E2BIG) error = RetryWithoutCaches(EnvRequest{envp}, exec);
  if (error == E2BIG) return ExecUntraced(path, argv, envp, UntracedWhy::kNoRoom, E2BIG);
  if (path != nullptr && path[0] != '\0') OnFailedLookup(AT_FDCWD, path, error);
  errno = error;
  return -1;
}

// Runs `path`, which is no executable format, with /bin/sh, as glibc's execvp does (ENOEXEC
// unless the exec succeeds); the shell's argv is in a frame of its own.
__attribute__((noinline)) void ExecWithShell(const char* path, char* const argv[],
                                             char* const envp[]) {
  size_t argc = CountEntries(argv);
  if (argc + 2 > kMaxArgs) return;  // a script without #! and 1,000 arguments
  const char* sh_argv[kMaxArgs];
  sh_argv[0] = "/bin/sh";
  sh_argv[1] = path;
  for (size_t i = 1; i <= argc; ++i) sh_argv[i + 1] = argv[i];
  if (argc == 0) sh_argv[2] = nullptr;
  ExecveImpl("/bin/sh", const_cast<char* const*>(sh_argv), envp);
  errno = ENOEXEC;
}

// execvp's search: `file` with a '/' is used as is; otherwise each PATH entry in turn; a file
// that exists but is not an executable format runs under /bin/sh, as glibc does.
int ExecvpeImpl(const char* file, char* const argv[], char* const envp[]) {
  if (file == nullptr || file[0] == '\0') {
    errno = ENOENT;
    return -1;
  }
  auto run = [&](const char* path) {
    ExecveImpl(path, argv, envp);
    if (errno == ENOEXEC) ExecWithShell(path, argv, envp);
  };
  if (IsPathName(file)) {
    run(file);
    return -1;
  }
  bool saw_eacces = false;
  char candidate[PATH_MAX];
  const bool searched_all = ForEachSearchCandidate(getenv("PATH"), file, candidate,
                                                   sizeof(candidate), [&](const char* path) {
                                                     run(path);
                                                     switch (errno) {
                                                       case EACCES:
                                                         saw_eacces = true;
                                                         return true;
                                                       case ENOENT:
                                                       case ESTALE:
                                                       case ENOTDIR:
                                                       case ENODEV:
                                                       case ETIMEDOUT:
                                                         return true;
                                                       default:
                                                         return false;
                                                     }
                                                   });
  if (!searched_all) return -1;
  if (saw_eacces) errno = EACCES;
  return -1;
}

// The path of a program for posix_spawnp: the first PATH entry where it is executable. With
// `misses`, the entries before it where the program is absent are appended there as 'N'
// actions: glibc's child tries them with execve, the probes ptrace sees.
bool SearchPath(const char* file, char* out, size_t size, ByteAppender* misses = nullptr) {
  if (IsPathName(file)) return false;
  return !ForEachSearchCandidate(getenv("PATH"), file, out, size, [&](const char* path) {
    const long rc = RawSyscall4(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(path), X_OK, 0);
    if (misses != nullptr && (rc == -ENOENT || rc == -ENOTDIR)) {
      AppendSpawnAction(*misses, 'N', path, Length(path));
    }
    return rc != 0;
  });
}

// glibc's file actions (sysdeps/posix/spawn_int.h, unchanged since glibc 2.29): the child
// performs them inside glibc, where no wrapper sees them, so the parent records the opens and
// chdirs for the child once the spawn succeeded.
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
// fchdir of `fd` (path nullptr).
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

// Encodes the actions (launch_protocol.h) into `out`; an fchdir's directory is resolved here,
// where the descriptor is the child's until the spawn.
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

// The records of `actions` under `child`, written by the parent (when the child cannot).
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

using SpawnFn = int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                        const posix_spawnattr_t*, char* const[], char* const[]);

// posix_spawn of the ptrace helper in place of `path` (HelperArgvFits(argv) is true); the
// helper's argv is in a frame of its own, which only this rare spawn pays for.
__attribute__((noinline)) int SpawnHelper(pid_t* child, const char* path,
                                          const posix_spawn_file_actions_t* actions,
                                          const posix_spawnattr_t* attr, char* const argv[],
                                          const EnvRequest& request) {
  const char* helper_argv[kMaxArgs];
  HelperArgv(path, argv, helper_argv);
  auto spawn = [&](char** env) {
    return REAL(posix_spawn)(child, g_helper, actions, attr, const_cast<char* const*>(helper_argv),
                             env);
  };
  const int rc = WithExecEnvironment(request, spawn);
  return rc == E2BIG ? RetryWithoutCaches(request, spawn) : rc;
}

// The spawned program's start writes its F and its file actions' records when the interposer
// (or, in auto, the ptrace helper) runs in it; the parent writes its own F as soon as the spawn
// returned, and writes the actions itself only when the child cannot (or they did not fit).
int SpawnImpl(SpawnFn real, bool search, pid_t* pid, const char* file,
              const posix_spawn_file_actions_t* actions, const posix_spawnattr_t* attr,
              char* const argv[], char* const envp[]) {
  if (!Active()) return real(pid, file, actions, attr, argv, envp);
  char found[4096];
  const char* path = file;
  char missed[2048];  // the PATH entries before `found`, when probes are recorded
  ByteAppender misses(missed, sizeof(missed) - 1);
  if (search && SearchPath(file, found, sizeof(found), ProbesWanted() ? &misses : nullptr)) {
    path = found;
  }
  ExecProbe probe = ProbeExecutable(path);
  bool unpreloadable = probe.kind != ExecKind::kPreloadable && probe.kind != ExecKind::kUnknown;
  const bool helper = unpreloadable && g_auto && g_helper[0] != '\0' &&
                      probe.kind != ExecKind::kSecure && HelperArgvFits(argv);
  // The program runs untraced (untraced.h): `why`, for the errno value `why_error`.
  UntracedWhy why = UntracedWhy::kLibraryDenied;
  int why_error = unpreloadable ? 0 : LibraryAccessError(g_lib_path);
  bool untraced = why_error != 0;
  const bool child_starts = (!unpreloadable || helper) && !untraced;
  char encoded[8192];
  ByteAppender encoder(encoded, sizeof(encoded) - 1);
  if (child_starts) EncodeSpawnActions(actions, &encoder);
  if (child_starts && !misses.overflow()) encoder.Append(missed, misses.size());
  const bool actions_in_env = child_starts && !encoder.overflow();
  encoded[actions_in_env ? encoder.size() : 0] = '\0';
  const ChildStart start{NextToken(), encoded};
  const ChildStart* child_start = child_starts ? &start : nullptr;
  EnvRequest request{envp, /*preload=*/!helper, nullptr, child_start};
  if (untraced) request.level = EnvLevel::kUntraced;
  pid_t child = 0;
  g_creations_in_flight.fetch_add(1, std::memory_order_acq_rel);
  auto spawn = [&](char** env) { return real(&child, file, actions, attr, argv, env); };
  int rc = helper ? SpawnHelper(&child, path, actions, attr, argv, request)
                  : WithExecEnvironment(request, spawn);
  if (rc == E2BIG && !helper && !untraced) rc = RetryWithoutCaches(request, spawn);
  if (rc == E2BIG && !untraced) {  // the program itself, untraced: it may fit
    why = UntracedWhy::kNoRoom;
    why_error = E2BIG;
    untraced = true;
    request.level = EnvLevel::kUntraced;
    rc = WithExecEnvironment(request, spawn);
  }
  if (pid != nullptr) *pid = child;
  if (rc == 0) {
    BatchMessage m;
    m.AddFork(Pid(), child, child_starts && !untraced ? start.token : 0);
    if (!actions_in_env || untraced) RecordSpawnFileActions(&m, child, actions);
    if ((!actions_in_env || untraced) && !misses.overflow() && misses.size() > 0) {
      missed[misses.size()] = '\0';
      AddSpawnActions(&m, child, missed);
    }
    if (!child_starts && !untraced) {
      m.AddComment(path, " is ", ExecKindReason(probe.kind), ": ", ExecKindLoss(probe.kind));
      m.AddExecPath(WireKind::kExec, child, path);
      m.AddUnenterable(child);
    }
    m.Send();
    if (untraced) SayRunsUntraced(child, path, why, why_error);
  }
  g_creations_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  return rc;
}

// Runs `fn` with our variables in `environ` (for system(3)/popen(3), whose internal spawn
// passes `environ` to the shell), with this process as the parent and `token` as the
// creation's token (launch_protocol.h).
template <typename Fn>
auto WithOurEnvironment(uint32_t token, Fn fn) -> decltype(fn()) {
  if (!Active()) return fn();
  char** saved = environ;
  const ChildStart start{token, nullptr};
  return WithExecEnvironment(EnvRequest{saved, true, nullptr, &start}, [&](char** env) {
    environ = env;
    auto result = fn();
    if (environ == env) environ = saved;
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// clone(2) with a function: the child of a new process updates the cached pid and writes F.

struct CloneStart {
  int (*fn)(void*);
  void* arg;
  int parent;
  int flags;
  uint32_t token;
  std::atomic<int>* slot_busy = nullptr;  // a CloneSlot's, cleared once the child copied this
};

// A CLONE_VM child without CLONE_VFORK runs beside its parent, which may return (and reuse the
// stack that held its CloneStart) before the child read it: such starts live in these slots
// until the child copied them.
struct CloneSlot {
  std::atomic<int> busy{0};
  CloneStart start;
};
// Rarely used, so kept out of the pages every process touches at its start: `= {}` makes it
// constant-initialized (no startup code writes it), and FILEMON_COLD_BSS puts it after them.
FILEMON_COLD_BSS CloneSlot g_clone_slots[16] = {};

int CloneTrampoline(void* data) {
  CloneStart start = *static_cast<CloneStart*>(data);
  const bool beside_parent = (start.flags & CLONE_VM) && !(start.flags & CLONE_VFORK);
  if (beside_parent) {
    // Copied: the slot is free again. The parent's thread-local slots may be ours too (no
    // CLONE_SETTLS), so nothing is cached: Pid() asks the kernel (g_pid_shared).
    if (start.slot_busy != nullptr) start.slot_busy->store(0, std::memory_order_release);
    SendFork(start.parent, static_cast<int>(RawSyscall0(SYS_getpid)), start.token);
    return start.fn(start.arg);
  }
  int self = static_cast<int>(RawSyscall0(SYS_gettid));  // a new process: tid == pid
  t_pid = self;
  if (!(start.flags & CLONE_VM)) {  // our own copy of memory
    g_pid.store(self, std::memory_order_relaxed);
    ResetCreations();
  }
  SendFork(start.parent, self, start.token);
  return start.fn(start.arg);
}

// ---------------------------------------------------------------------------------------------
// Raw syscall(2): the calls the ptrace backend records, decoded from their numbers.

long SyscallImpl(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  auto real = [&]() { return REAL(syscall)(nr, a1, a2, a3, a4, a5, a6); };
  if (!Active()) return real();
  auto str = [](long a) { return reinterpret_cast<const char*>(a); };
  switch (nr) {
#ifdef SYS_open
    case SYS_open: {
      long r = real();
      if (r >= 0) RecordOpen(AT_FDCWD, str(a1), static_cast<int>(a2), false);
      if (r < 0) OnFailedOpen(AT_FDCWD, str(a1), static_cast<int>(a2), errno);
      return r;
    }
#endif
#ifdef SYS_creat
    case SYS_creat: {
      long r = real();
      if (r >= 0) RecordOpen(AT_FDCWD, str(a1), O_WRONLY | O_CREAT | O_TRUNC, false);
      return r;
    }
#endif
    case SYS_openat: {
      long r = real();
      if (r >= 0) RecordOpen(static_cast<int>(a1), str(a2), static_cast<int>(a3), true);
      if (r < 0) OnFailedOpen(static_cast<int>(a1), str(a2), static_cast<int>(a3), errno);
      return r;
    }
#ifdef SYS_openat2
    case SYS_openat2: {
      long r = real();
      // struct open_how starts with the 64-bit flags.
      if (a3 == 0) return r;
      const int flags = static_cast<int>(*reinterpret_cast<const uint64_t*>(a3));
      if (r >= 0) RecordOpen(static_cast<int>(a1), str(a2), flags, true);
      if (r < 0) OnFailedOpen(static_cast<int>(a1), str(a2), flags, errno);
      return r;
    }
#endif
#ifdef SYS_rename
    case SYS_rename: {
      long r = real();
      if (r == 0) RecordTwo(WireKind::kMove, AT_FDCWD, str(a1), AT_FDCWD, str(a2));
      return r;
    }
#endif
    case SYS_renameat:
#ifdef SYS_renameat2
    case SYS_renameat2:
#endif
    {
      long r = real();
      if (r == 0) {
        RecordTwo(WireKind::kMove, static_cast<int>(a1), str(a2), static_cast<int>(a3), str(a4));
      }
      return r;
    }
#ifdef SYS_link
    case SYS_link: {
      long r = real();
      if (r == 0) RecordTwo(WireKind::kLink, AT_FDCWD, str(a1), AT_FDCWD, str(a2));
      return r;
    }
#endif
    case SYS_linkat: {
      long r = real();
      if (r == 0) {
        RecordTwo(WireKind::kLink, static_cast<int>(a1), str(a2), static_cast<int>(a3), str(a4));
      }
      return r;
    }
#ifdef SYS_symlink
    case SYS_symlink: {
      long r = real();
      if (r == 0) RecordSymlink(str(a1), AT_FDCWD, str(a2));
      return r;
    }
#endif
    case SYS_symlinkat: {
      long r = real();
      if (r == 0) RecordSymlink(str(a1), static_cast<int>(a2), str(a3));
      return r;
    }
#ifdef SYS_unlink
    case SYS_unlink:
#endif
#ifdef SYS_rmdir
    case SYS_rmdir:
#endif
    {
      long r = real();
      if (r == 0) RecordOne(WireKind::kDelete, AT_FDCWD, str(a1));
      return r;
    }
    case SYS_unlinkat: {
      long r = real();
      if (r == 0) RecordOne(WireKind::kDelete, static_cast<int>(a1), str(a2));
      return r;
    }
    case SYS_chdir: {
      long r = real();
      if (r == 0) RecordOne(WireKind::kChdir, AT_FDCWD, str(a1));
      return r;
    }
    case SYS_fchdir: {
      long r = real();
      if (r == 0) RecordFchdir(static_cast<int>(a1));
      return r;
    }
    case SYS_execve:
      return ExecveImpl(str(a1), reinterpret_cast<char* const*>(a2),
                        reinterpret_cast<char* const*>(a3));
#ifdef SYS_execveat
    case SYS_execveat:
      return ::execveat(static_cast<int>(a1), str(a2), reinterpret_cast<char* const*>(a3),
                        reinterpret_cast<char* const*>(a4), static_cast<int>(a5));
#endif
    case SYS_exit_group:
      RecordExit(static_cast<int>(a1));
      return real();
    case SYS_close:
      if (IsOurs(static_cast<int>(a1))) return 0;
      return real();
#ifdef SYS_fork
    case SYS_fork:
#endif
#ifdef SYS_vfork
    case SYS_vfork:
#endif
#if defined(SYS_fork) || defined(SYS_vfork)
      return fork();
#endif
    case SYS_clone:
      if (!(a1 & CLONE_VM)) {
        return CreateProcess([&] {
          long r = real();
          if (r == 0) OnForkChild();
          return r;
        });
      }
      if (!(a1 & CLONE_THREAD)) g_pid_shared.store(true, std::memory_order_relaxed);
      return real();
    case SYS_wait4: {
      int status = 0;
      int* user = reinterpret_cast<int*>(a2);
      long r = REAL(syscall)(nr, a1, reinterpret_cast<long>(&status), a3, a4, 0, 0);
      if (user != nullptr) *user = status;
      if (r > 0) RecordReaped(static_cast<pid_t>(r), status);
      return r;
    }
    default:
      return real();
  }
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

// ---------------------------------------------------------------------------------------------
// The interposed entry points (exported; see interposer.lds).

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

namespace {

mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

}  // namespace

#define OPEN_WRAPPER(name)                                    \
  FILEMON_EXPORT int name(const char* path, int flags, ...) { \
    va_list ap;                                               \
    va_start(ap, flags);                                      \
    mode_t mode = ModeArg(flags, ap);                         \
    va_end(ap);                                               \
    int fd = REAL(name)(path, flags, mode);                   \
    if (fd >= 0) RecordOpen(AT_FDCWD, path, flags, false);    \
    if (fd < 0) OnFailedOpen(AT_FDCWD, path, flags, errno);   \
    return fd;                                                \
  }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                             \
  FILEMON_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    va_list ap;                                                          \
    va_start(ap, flags);                                                 \
    mode_t mode = ModeArg(flags, ap);                                    \
    va_end(ap);                                                          \
    int fd = REAL(name)(dirfd, path, flags, mode);                       \
    if (fd >= 0) RecordOpen(dirfd, path, flags, true);                   \
    if (fd < 0) OnFailedOpen(dirfd, path, flags, errno);                 \
    return fd;                                                           \
  }
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

#define OPEN2_WRAPPER(name)                                 \
  FILEMON_EXPORT int name(const char* path, int flags) {    \
    int fd = REAL(name)(path, flags);                       \
    if (fd >= 0) RecordOpen(AT_FDCWD, path, flags, false);  \
    if (fd < 0) OnFailedOpen(AT_FDCWD, path, flags, errno); \
    return fd;                                              \
  }
OPEN2_WRAPPER(__open_2)
OPEN2_WRAPPER(__open64_2)

#define OPENAT2_WRAPPER(name)                                       \
  FILEMON_EXPORT int name(int dirfd, const char* path, int flags) { \
    int fd = REAL(name)(dirfd, path, flags);                        \
    if (fd >= 0) RecordOpen(dirfd, path, flags, true);              \
    if (fd < 0) OnFailedOpen(dirfd, path, flags, errno);            \
    return fd;                                                      \
  }
OPENAT2_WRAPPER(__openat_2)
OPENAT2_WRAPPER(__openat64_2)

#define CREAT_WRAPPER(name)                                                       \
  FILEMON_EXPORT int name(const char* path, mode_t mode) {                        \
    int fd = REAL(name)(path, mode);                                              \
    if (fd >= 0) RecordOpen(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, false); \
    return fd;                                                                    \
  }
CREAT_WRAPPER(creat)
CREAT_WRAPPER(creat64)

#define FOPEN_WRAPPER(name)                                                    \
  FILEMON_EXPORT FILE* name(const char* path, const char* mode) {              \
    FILE* f = REAL(name)(path, mode);                                          \
    if (f != nullptr) RecordOpen(AT_FDCWD, path, FopenFlags(mode), false);     \
    if (f == nullptr) OnFailedOpen(AT_FDCWD, path, FopenCreates(mode), errno); \
    return f;                                                                  \
  }
FOPEN_WRAPPER(fopen)
FOPEN_WRAPPER(fopen64)

#define FREOPEN_WRAPPER(name)                                                   \
  FILEMON_EXPORT FILE* name(const char* path, const char* mode, FILE* stream) { \
    FILE* f = REAL(name)(path, mode, stream);                                   \
    if (f != nullptr && path != nullptr) {                                      \
      RecordOpen(AT_FDCWD, path, FopenFlags(mode), false);                      \
    } else if (path != nullptr) {                                               \
      OnFailedOpen(AT_FDCWD, path, FopenCreates(mode), errno);                  \
    }                                                                           \
    return f;                                                                   \
  }
FREOPEN_WRAPPER(freopen)
FREOPEN_WRAPPER(freopen64)

FILEMON_EXPORT DIR* opendir(const char* path) {
  DIR* d = REAL(opendir)(path);
  if (d != nullptr) RecordOpen(AT_FDCWD, path, O_RDONLY, false);
  if (d == nullptr) OnFailedOpen(AT_FDCWD, path, O_RDONLY, errno);
  return d;
}

// mkstemp and friends open the name they made with O_RDWR|O_CREAT|O_EXCL: R then W.
#define MKSTEMP_WRAPPER(name, params, args)                 \
  FILEMON_EXPORT int name params {                          \
    int fd = REAL(name) args;                               \
    if (fd >= 0) RecordOpen(AT_FDCWD, tmpl, O_RDWR, false); \
    return fd;                                              \
  }
MKSTEMP_WRAPPER(mkstemp, (char* tmpl), (tmpl))
MKSTEMP_WRAPPER(mkstemp64, (char* tmpl), (tmpl))
MKSTEMP_WRAPPER(mkostemp, (char* tmpl, int flags), (tmpl, flags))
MKSTEMP_WRAPPER(mkostemp64, (char* tmpl, int flags), (tmpl, flags))
MKSTEMP_WRAPPER(mkstemps, (char* tmpl, int suffix), (tmpl, suffix))
MKSTEMP_WRAPPER(mkstemps64, (char* tmpl, int suffix), (tmpl, suffix))
MKSTEMP_WRAPPER(mkostemps, (char* tmpl, int suffix, int flags), (tmpl, suffix, flags))
MKSTEMP_WRAPPER(mkostemps64, (char* tmpl, int suffix, int flags), (tmpl, suffix, flags))

// tmpfile(3) opens an unnamed file in /tmp (O_TMPFILE|O_RDWR on the directory).
#define TMPFILE_WRAPPER(name)                                        \
  FILEMON_EXPORT FILE* name() {                                      \
    FILE* f = REAL(name)();                                          \
    if (f != nullptr) RecordOpen(AT_FDCWD, P_tmpdir, O_RDWR, false); \
    return f;                                                        \
  }
TMPFILE_WRAPPER(tmpfile)
TMPFILE_WRAPPER(tmpfile64)

// Wrappers that record one or two paths when the call returns 0.
#define ONE_PATH_WRAPPER(name, params, args, kind, dirfd, path) \
  FILEMON_EXPORT int name params noexcept {                     \
    int rc = REAL(name) args;                                   \
    if (rc == 0) RecordOne(kind, dirfd, path);                  \
    return rc;                                                  \
  }
#define TWO_PATH_WRAPPER(name, params, args, kind, dirfd1, path1, dirfd2, path2) \
  FILEMON_EXPORT int name params noexcept {                                      \
    int rc = REAL(name) args;                                                    \
    if (rc == 0) RecordTwo(kind, dirfd1, path1, dirfd2, path2);                  \
    return rc;                                                                   \
  }

TWO_PATH_WRAPPER(rename, (const char* from, const char* to), (from, to), WireKind::kMove, AT_FDCWD,
                 from, AT_FDCWD, to)
TWO_PATH_WRAPPER(renameat, (int fromfd, const char* from, int tofd, const char* to),
                 (fromfd, from, tofd, to), WireKind::kMove, fromfd, from, tofd, to)
TWO_PATH_WRAPPER(renameat2,
                 (int fromfd, const char* from, int tofd, const char* to, unsigned flags),
                 (fromfd, from, tofd, to, flags), WireKind::kMove, fromfd, from, tofd, to)
TWO_PATH_WRAPPER(link, (const char* from, const char* to), (from, to), WireKind::kLink, AT_FDCWD,
                 from, AT_FDCWD, to)
TWO_PATH_WRAPPER(linkat, (int fromfd, const char* from, int tofd, const char* to, int flags),
                 (fromfd, from, tofd, to, flags), WireKind::kLink, fromfd, from, tofd, to)
ONE_PATH_WRAPPER(unlink, (const char* path), (path), WireKind::kDelete, AT_FDCWD, path)
ONE_PATH_WRAPPER(unlinkat, (int dirfd, const char* path, int flags), (dirfd, path, flags),
                 WireKind::kDelete, dirfd, path)
ONE_PATH_WRAPPER(rmdir, (const char* path), (path), WireKind::kDelete, AT_FDCWD, path)
ONE_PATH_WRAPPER(chdir, (const char* path), (path), WireKind::kChdir, AT_FDCWD, path)

FILEMON_EXPORT int symlink(const char* target, const char* linkpath) noexcept {
  int rc = REAL(symlink)(target, linkpath);
  if (rc == 0) RecordSymlink(target, AT_FDCWD, linkpath);
  return rc;
}

FILEMON_EXPORT int symlinkat(const char* target, int dirfd, const char* linkpath) noexcept {
  int rc = REAL(symlinkat)(target, dirfd, linkpath);
  if (rc == 0) RecordSymlink(target, dirfd, linkpath);
  return rc;
}

FILEMON_EXPORT int fchdir(int fd) noexcept {
  int rc = REAL(fchdir)(fd);
  if (rc == 0) RecordFchdir(fd);
  return rc;
}

// --- exec ---

FILEMON_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return ExecveImpl(path, argv, envp);
}

FILEMON_EXPORT int execv(const char* path, char* const argv[]) noexcept {
  return ExecveImpl(path, argv, environ);
}

FILEMON_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  return ExecvpeImpl(file, argv, envp);
}

FILEMON_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
  return ExecvpeImpl(file, argv, environ);
}

// execl, execlp, execle: their argument list as an array. Up to kListArgsOnStack arguments it
// lives on the stack; a longer list gets pages of its own for the call (never the heap: a
// vfork child may call these), unmapped again if the exec fails.
constexpr size_t kListArgsOnStack = 256;

class ListArgs {
 public:
  // `count`: the arguments, `first` included, without the terminating null.
  explicit ListArgs(size_t count) : size_((count + 1) * sizeof(const char*)) {
    if (count + 1 <= kListArgsOnStack) {
      args_ = stack_;
      return;
    }
    const long map = RawSyscall6(SYS_mmap, 0, static_cast<long>(size_), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map < 0 && map > -4096) return;  // args() is null: the caller fails with ENOMEM
    args_ = reinterpret_cast<const char**>(map);
    mapped_ = true;
  }
  ListArgs(const ListArgs&) = delete;
  ListArgs& operator=(const ListArgs&) = delete;
  ~ListArgs() {
    if (mapped_) RawSyscall2(SYS_munmap, reinterpret_cast<long>(args_), static_cast<long>(size_));
  }
  const char** args() const { return args_; }

 private:
  const char* stack_[kListArgsOnStack];
  const char** args_ = nullptr;
  size_t size_;
  bool mapped_ = false;
};

// Declares `list` (a ListArgs) holding the arguments from `first` to the terminating null, and
// `envp_out`: the pointer after that null (execle's environment). Returns -1 with ENOMEM from
// the enclosing function if a long list cannot be mapped.
#define COLLECT_VARARGS(first, list, envp_out)                                    \
  size_t count = 1;                                                               \
  {                                                                               \
    va_list ap;                                                                   \
    va_start(ap, first);                                                          \
    while (va_arg(ap, const char*) != nullptr) ++count;                           \
    va_end(ap);                                                                   \
  }                                                                               \
  ListArgs list(count);                                                           \
  if (list.args() == nullptr) {                                                   \
    errno = ENOMEM;                                                               \
    return -1;                                                                    \
  }                                                                               \
  char* const* envp_out = environ;                                                \
  {                                                                               \
    va_list ap;                                                                   \
    va_start(ap, first);                                                          \
    list.args()[0] = first;                                                       \
    for (size_t i = 1; i <= count; ++i) list.args()[i] = va_arg(ap, const char*); \
    envp_out = va_arg(ap, char* const*);                                          \
    va_end(ap);                                                                   \
  }

FILEMON_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
  COLLECT_VARARGS(arg, list, unused_envp);
  (void)unused_envp;
  return ExecveImpl(path, const_cast<char* const*>(list.args()), environ);
}

FILEMON_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
  COLLECT_VARARGS(arg, list, unused_envp);
  (void)unused_envp;
  return ExecvpeImpl(file, const_cast<char* const*>(list.args()), environ);
}

FILEMON_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
  COLLECT_VARARGS(arg, list, envp);
  return ExecveImpl(path, const_cast<char* const*>(list.args()), envp);
}

FILEMON_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  if (!Active()) return REAL(fexecve)(fd, argv, envp);
  char exec_path[4096];
  bool known = ExecPathAt(fd, "", exec_path, sizeof(exec_path));
  return WithExecEnvironment(EnvRequest{envp, true, known ? exec_path : nullptr},
                             [&](char** env) { return REAL(fexecve)(fd, argv, env); });
}

FILEMON_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                            int flags) noexcept {
  if (!Active()) {
    long rc = RawSyscall6(SYS_execveat, dirfd, reinterpret_cast<long>(path),
                          reinterpret_cast<long>(argv), reinterpret_cast<long>(envp), flags, 0);
    errno = static_cast<int>(-rc);
    return -1;
  }
  char exec_path[4096];
  bool known = ExecPathAt(dirfd, (flags & AT_EMPTY_PATH) && path[0] == '\0' ? "" : path, exec_path,
                          sizeof(exec_path));
  return WithExecEnvironment(EnvRequest{envp, true, known ? exec_path : nullptr}, [&](char** env) {
    long rc = RawSyscall6(SYS_execveat, dirfd, reinterpret_cast<long>(path),
                          reinterpret_cast<long>(argv), reinterpret_cast<long>(env), flags, 0);
    errno = static_cast<int>(-rc);
    if (path[0] != '\0') OnFailedLookup(dirfd, path, errno);
    return -1;
  });
}

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

// system(3) waits for its child: the child's F alone is in order (token 0).
FILEMON_EXPORT int system(const char* command) {
  return WithOurEnvironment(0, [&] { return REAL(system)(command); });
}

// The pid of a popen(3) child: glibc keeps it after the FILE and its vtable pointer
// (struct _IO_proc_file, unchanged since glibc 2.0); checked to be a child of ours.
pid_t PopenChild(FILE* stream) {
  pid_t pid;
  memcpy(&pid, reinterpret_cast<const char*>(stream) + sizeof(FILE) + sizeof(void*), sizeof(pid));
  if (pid <= 0) return 0;
  siginfo_t info;
  const long rc = RawSyscall6(SYS_waitid, P_PID, pid, reinterpret_cast<long>(&info),
                              WEXITED | WNOHANG | WNOWAIT, 0, 0);
  return rc == 0 ? pid : 0;
}

// popen(3) returns at once: the parent writes its F too.
FILEMON_EXPORT FILE* popen(const char* command, const char* mode) {
  if (!Active()) return REAL(popen)(command, mode);
  const uint32_t token = NextToken();
  g_creations_in_flight.fetch_add(1, std::memory_order_acq_rel);
  FILE* stream = WithOurEnvironment(token, [&] { return REAL(popen)(command, mode); });
  const pid_t child = stream != nullptr ? PopenChild(stream) : 0;
  if (child > 0) SendFork(Pid(), child, token);
  g_creations_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  return stream;
}

// --- processes ---

// F from both sides: the atfork child handler (see EnsureForkHandlers) and CreateProcess.
FILEMON_EXPORT pid_t fork() noexcept {
  if (!Active()) return REAL(fork)();
  EnsureForkHandlers();
  return CreateProcess([] { return REAL(fork)(); });
}

// daemon(3) as glibc writes it, from the wrapped calls: its parent exits inside it, so its
// fork must be ours (the parent's F before its X), and its chdir and open of /dev/null are
// recorded as ptrace records them.
FILEMON_EXPORT int daemon(int nochdir, int noclose) noexcept {
  if (!Active()) return REAL(daemon)(nochdir, noclose);
  const pid_t child = fork();
  if (child < 0) return -1;
  if (child > 0) _exit(0);
  if (setsid() == -1) return -1;
  if (!nochdir) chdir("/");
  if (!noclose) {
    const int fd = open("/dev/null", O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      if (fd >= 0) close(fd);
      return -1;
    }
    if (!S_ISCHR(st.st_mode)) {
      close(fd);
      errno = ENODEV;
      return -1;
    }
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > 2) close(fd);
  }
  return 0;
}

FILEMON_EXPORT pid_t forkpty(int* amaster, char* name, const struct termios* termp,
                             const struct winsize* winp) noexcept {
  if (!Active()) return REAL(forkpty)(amaster, name, termp, winp);
  EnsureForkHandlers();
  return CreateProcess([&] { return REAL(forkpty)(amaster, name, termp, winp); });
}

// vfork: the child borrows the parent's memory and stack until it execs, so a C wrapper cannot
// return twice. On x86-64 the entry point is written like glibc's: the return address is held
// in a register across the system call, and each side then calls a hook (the child on the
// parent's stack below the caller's frame, as any call the child makes does). The child's hook
// caches the child's pid in the thread's slot (the parent's thread, suspended) and writes F; the
// parent's hook clears the slot again when it resumes. Elsewhere vfork is served by fork.
extern "C" __attribute__((visibility("hidden"))) void filemon_preload_vfork_child() {
  int self = static_cast<int>(RawSyscall0(SYS_getpid));
  t_pid = self;
  if (!Active()) return;
  // The parent stays suspended until this child exec'd or exited: its F alone is in order.
  SendFork(g_pid.load(std::memory_order_relaxed), self, 0);
}

extern "C" __attribute__((visibility("hidden"))) void filemon_preload_vfork_parent() { t_pid = 0; }

extern "C" __attribute__((visibility("hidden"))) long filemon_preload_vfork_error(long error) {
  errno = static_cast<int>(-error);
  return -1;
}

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl vfork\n"
    ".type vfork,@function\n"
    "vfork:\n"
    "  pop %rdx\n"  // the return address, kept in a register: the child may reuse the stack
    "  mov $" FILEMON_STRINGIFY(SYS_vfork) ", %eax\n"
    "  syscall\n"
    "  push %rdx\n"
    "  test %rax, %rax\n"
    "  jz 1f\n"
    "  cmp $-4095, %rax\n"
    "  jae 2f\n"
    "  push %rax\n"  // the parent: keep the child's pid (and align the stack for the call)
    "  call filemon_preload_vfork_parent\n"
    "  pop %rax\n"
    "  ret\n"
    "1:\n"
    "  sub $8, %rsp\n"
    "  call filemon_preload_vfork_child\n"
    "  add $8, %rsp\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "2:\n"
    "  sub $8, %rsp\n"
    "  mov %rax, %rdi\n"
    "  call filemon_preload_vfork_error\n"
    "  add $8, %rsp\n"
    "  ret\n"
    ".size vfork,.-vfork\n");
#else
FILEMON_EXPORT pid_t vfork() noexcept { return REAL(fork)(); }
#endif

FILEMON_EXPORT pid_t _Fork() noexcept {
  if (!Active()) return REAL(_Fork)();
  return CreateProcess([] {
    pid_t r = REAL(_Fork)();
    if (r == 0) OnForkChild();
    return r;
  });
}

FILEMON_EXPORT int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) noexcept {
  va_list ap;
  va_start(ap, arg);
  pid_t* parent_tid = va_arg(ap, pid_t*);
  void* tls = va_arg(ap, void*);
  pid_t* child_tid = va_arg(ap, pid_t*);
  va_end(ap);
  if (!Active() || (flags & CLONE_THREAD)) {
    return REAL(clone)(fn, stack, flags, arg, parent_tid, tls, child_tid);
  }
  if ((flags & CLONE_VM) && !(flags & CLONE_VFORK)) {
    // Parent and child run at once in one memory: neither may trust a cached pid. Both write
    // F, the child from a slot (CloneSlot); without a free slot, no F.
    g_pid_shared.store(true, std::memory_order_relaxed);
    for (CloneSlot& slot : g_clone_slots) {
      int expected = 0;
      if (!slot.busy.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
      return CreateProcess([&] {
        slot.start = CloneStart{fn, arg, Pid(), flags, t_fork_token, &slot.busy};
        const int rc =
            REAL(clone)(CloneTrampoline, stack, flags, &slot.start, parent_tid, tls, child_tid);
        if (rc < 0) slot.busy.store(0, std::memory_order_release);  // no child to free it
        return rc;
      });
    }
    return REAL(clone)(fn, stack, flags, arg, parent_tid, tls, child_tid);
  }
  int saved = t_pid;
  // A CLONE_VFORK parent stays suspended until the child exec'd or exited: the child's F
  // alone is in order. Otherwise both write it.
  if (flags & CLONE_VFORK) {
    CloneStart start{fn, arg, Pid(), flags, 0};
    int rc = REAL(clone)(CloneTrampoline, stack, flags, &start, parent_tid, tls, child_tid);
    t_pid = saved;  // a CLONE_VM|CLONE_VFORK child wrote our (shared) copy
    return rc;
  }
  return CreateProcess([&] {
    CloneStart start{fn, arg, Pid(), flags, t_fork_token};
    return REAL(clone)(CloneTrampoline, stack, flags, &start, parent_tid, tls, child_tid);
  });
}

FILEMON_EXPORT void _exit(int status) {
  RecordExit(status);
  REAL(_exit)(status);
  __builtin_unreachable();
}

FILEMON_EXPORT void _Exit(int status) noexcept {
  RecordExit(status);
  REAL(_Exit)(status);
  __builtin_unreachable();
}

FILEMON_EXPORT long syscall(long nr, ...) noexcept {
  va_list ap;
  va_start(ap, nr);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  return SyscallImpl(nr, a1, a2, a3, a4, a5, a6);
}

FILEMON_EXPORT void* dlopen(const char* file, int mode) noexcept {
  if (!Active() || file == nullptr) return REAL(dlopen)(file, mode);
  // The loader's own opens, exactly (the cache, the library, its dependencies).
  if (LibcWindowAvailable()) return InLibcWindow([&] { return REAL(dlopen)(file, mode); });
  int before = CountLoadedObjects();
  void* handle = REAL(dlopen)(file, mode);
  if (handle != nullptr) {
    BatchMessage loaded;
    RecordLoadedObjects(&loaded, before, getenv("LD_LIBRARY_PATH"));
    loaded.Send();
  }
  return handle;
}

// --- reaping: X for children that could not write their own ---

FILEMON_EXPORT pid_t waitpid(pid_t pid, int* status, int options) {
  int local = 0;
  pid_t r = REAL(waitpid)(pid, &local, options);
  if (status != nullptr) *status = local;
  if (r > 0) RecordReaped(r, local);
  return r;
}

FILEMON_EXPORT pid_t wait(int* status) { return waitpid(-1, status, 0); }

FILEMON_EXPORT pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) noexcept {
  int local = 0;
  pid_t r = REAL(wait4)(pid, &local, options, usage);
  if (status != nullptr) *status = local;
  if (r > 0) RecordReaped(r, local);
  return r;
}

FILEMON_EXPORT pid_t wait3(int* status, int options, struct rusage* usage) noexcept {
  return wait4(-1, status, options, usage);
}

FILEMON_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
  int rc = REAL(waitid)(idtype, id, info, options);
  if (rc == 0 && info != nullptr && info->si_pid > 0 && (options & WEXITED) &&
      !(options & WNOWAIT)) {
    if (info->si_code == CLD_EXITED) {
      RecordReaped(info->si_pid, W_EXITCODE(info->si_status, 0));
    } else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED) {
      RecordReaped(info->si_pid, info->si_status);
    }
  }
  return rc;
}

// --- our descriptor survives programs that close everything ---

FILEMON_EXPORT int close(int fd) {
  if (IsOurs(fd)) return 0;
  return REAL(close)(fd);
}

// The descriptors close_range and closefrom must spare.
void OurFds(int (&ours)[2]) {
  ours[0] = g_fd.load(std::memory_order_relaxed);
  ours[1] = g_pipe.load(std::memory_order_relaxed);
}

// close_range(first, last) around our descriptors: the pieces between them.
FILEMON_EXPORT int close_range(unsigned first, unsigned last, int flags) noexcept {
  int ours[2];
  OurFds(ours);
  const CloseRanges r = RangesSparing(first, last, ours);
  for (size_t i = 0; i < r.count; ++i) {
    const int rc = REAL(close_range)(r.ranges[i].first, r.ranges[i].last, flags);
    if (rc != 0) return rc;
  }
  return 0;
}

FILEMON_EXPORT void closefrom(int lowfd) noexcept {
  int ours[2];
  OurFds(ours);
  const CloseRanges r = ClosefromRanges(lowfd, ours);
  for (size_t i = 0; i < r.count; ++i) {
    if (r.ranges[i].last == ~0U) {
      REAL(closefrom)(static_cast<int>(r.ranges[i].first));
    } else {
      REAL(close_range)(r.ranges[i].first, r.ranges[i].last, 0);
    }
  }
}

FILEMON_EXPORT int dup2(int oldfd, int newfd) noexcept {
  if (oldfd != newfd) MoveSocketAwayFrom(newfd);
  return REAL(dup2)(oldfd, newfd);
}

FILEMON_EXPORT int dup3(int oldfd, int newfd, int flags) noexcept {
  if (oldfd != newfd) MoveSocketAwayFrom(newfd);
  return REAL(dup3)(oldfd, newfd, flags);
}
