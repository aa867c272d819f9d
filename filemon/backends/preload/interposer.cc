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
// process_creation.h (F from both sides), exec.h, exec_argv.h, spawn_actions.h,
// syscall_decode.h, start_environment.h; the wrappers by family in wrappers_*.cc. This file
// holds the process start (the constructor: F, E and the loader's opens) and dlopen, whose
// loaded objects it records the same way.

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/channel.h"
#include "filemon/backends/preload/directory_list.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/launch_protocol.h"
#include "filemon/backends/preload/libc_window.h"
#include "filemon/backends/preload/locale_cache.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/records.h"
#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/spawn_actions.h"
#include "filemon/backends/preload/start_environment.h"
#include "filemon/backends/preload/start_text.h"
#include "filemon/backends/preload/wire_format.h"

extern "C" char** environ;
// The loader's: where the process's initial stack begins (at argc).
extern "C" void* __libc_stack_end;
// This library's ELF header, mapped with its first segment (the linker defines it).
extern "C" const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

// The library links without the C runtime's start files (BUILD.bazel), whose crtbeginS.o
// defines this: the object's identity, which pthread_atfork (libc_nonshared.a) passes to
// libc so that a dlclose drops its handlers. Any address unique to this object serves.
extern "C" __attribute__((visibility("hidden"))) const char __dso_handle = 0;

namespace filemon {
namespace preload_internal {
namespace {

DECLARE_REAL(dlopen, void* (*)(const char*, int));

FILEMON_START_RODATA constexpr char kLoaderCache[] = "/etc/ld.so.cache";
FILEMON_START_RODATA constexpr char kDevFd[] = "/dev/fd/";

// ---------------------------------------------------------------------------------------------
// Process start: E, the loader's opens, and F for a process created behind our back.

// True if `info`'s object holds this library's code; notes its text and path the first time.
FILEMON_START_TEXT bool IsThisLibrary(const struct dl_phdr_info* info) {
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

// One loaded object, by the name the loader keeps for it; `self`: this library.
FILEMON_START_TEXT void VisitName(LoadedObjects* objects, const char* name, bool self) {
  // The main program (""), the vDSO (no '/'), the loader and this library are not opened by
  // the loader on the program's behalf.
  if (name == nullptr || name[0] == '\0' || self) return;
  bool has_slash = false;
  for (const char* p = name; *p != '\0'; ++p) has_slash |= (*p == '/');
  if (!has_slash) return;
  if (objects->interp != nullptr && SameString(name, objects->interp)) return;
  if (objects->message == nullptr) {
    if (IsSystemLibraryDir(name) && !InDirectoryList(name, objects->library_path)) {
      objects->used_cache = true;
    }
    return;
  }
  objects->message->Add(WireKind::kRead, objects->pid, AT_FDCWD, name);
}

FILEMON_START_TEXT int VisitObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* objects = static_cast<LoadedObjects*>(data);
  if (objects->index++ < objects->skip) return 0;
  VisitName(objects, info->dlpi_name, IsThisLibrary(info));
  return 0;
}

// Notes this library's path and text (as IsThisLibrary does) from its entry in the loader's
// list and its own program headers.
FILEMON_START_TEXT void NoteThisLibrary(const struct link_map* self) {
  if (g_lib_path[0] != '\0' || self->l_name == nullptr) return;
  g_lib_path = self->l_name;  // the loader's, for as long as the library is loaded
  const auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(
      reinterpret_cast<uintptr_t>(&__ehdr_start) + __ehdr_start.e_phoff);
  for (int i = 0; i < __ehdr_start.e_phnum; ++i) {
    if (phdr[i].p_type == PT_LOAD && (phdr[i].p_flags & PF_X) != 0) {
      NoteOwnText(self->l_addr + phdr[i].p_vaddr, phdr[i].p_memsz);
      return;
    }
  }
}

// The objects loaded before the program started, from the loader's list for debuggers
// (_r_debug), without dl_iterate_phdr's lock: its pthread_mutex_lock and _unlock are two pages
// of libc that a small program never touches otherwise (next_symbol.h looks the wrappers' real
// functions up the same way). False while the list is being changed (a dlopen in another
// thread during a lazy start): dl_iterate_phdr then.
FILEMON_START_TEXT bool VisitStartObjects(LoadedObjects* objects) {
  if (_r_debug.r_state != r_debug::RT_CONSISTENT || _r_debug.r_map == nullptr) return false;
  for (const struct link_map* l = _r_debug.r_map; l != nullptr; l = l->l_next) {
    const bool self = l->l_ld == _DYNAMIC;
    if (self) NoteThisLibrary(l);
    VisitName(objects, l->l_name, self);
  }
  return true;
}

// getauxval(type), from the initial stack (StartAuxValue).
FILEMON_START_TEXT uintptr_t AuxValue(uintptr_t type) {
  if (__libc_stack_end == nullptr) return getauxval(type);
  return StartAuxValue(static_cast<const uintptr_t*>(__libc_stack_end), type);
}

// The main program's PT_INTERP string.
FILEMON_START_TEXT const char* InterpreterOf() {
  auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(AuxValue(AT_PHDR));
  size_t phnum = AuxValue(AT_PHNUM);
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
// (g_lib_path, the syscall windows' text). `skip` 0 (the start's objects): without the
// loader's lock where it can be (VisitStartObjects).
FILEMON_START_TEXT void RecordLoadedObjects(BatchMessage* m, int skip, const char* library_path) {
  LoadedObjects objects;
  objects.pid = Pid();
  objects.skip = skip;
  objects.interp = InterpreterOf();
  objects.library_path = library_path;
  const bool lock_free = skip == 0 && VisitStartObjects(&objects);
  if (!lock_free) dl_iterate_phdr(VisitObject, &objects);
  if (objects.used_cache) m->Add(WireKind::kRead, objects.pid, AT_FDCWD, kLoaderCache);
  objects.message = m;
  objects.index = 0;
  if (!lock_free || !VisitStartObjects(&objects)) dl_iterate_phdr(VisitObject, &objects);
}

int CountLoadedObjects() {
  int count = 0;
  dl_iterate_phdr(
      [](struct dl_phdr_info*, size_t, void* data) { return ++*static_cast<int*>(data), 0; },
      &count);
  return count;
}

FILEMON_START_TEXT void OnExit(int status, void*) { RecordExit(status); }

// Takes the supervisor's channel (its socket `fd`) and options from `env`; false if the
// channel is gone (this process is then not traced).
FILEMON_START_TEXT bool AdoptSupervisor(const StartEnvironment& env, long fd) {
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
    return false;
  }
  long pipe = -1;
  if (ParseInt(env.pipe, &pipe) && IsOurPipe(static_cast<int>(pipe))) {
    g_pipe.store(static_cast<int>(pipe), std::memory_order_relaxed);
  }
  return true;
}

// A process created inside glibc (posix_spawn, system(), popen() clone internally): F from its
// side with the parent and token its parent passed, then what glibc did in it before the exec
// (launch_protocol.h). Without a token (an environment passed on by a program the interposer
// could not enter) the parent is the kernel's, and the supervisor may name the program's
// process instead (start_environment.h).
FILEMON_START_TEXT void AddStartFork(BatchMessage* start, const StartEnvironment& env, int pid) {
  const StartFork fork = StartForkOf(env, pid);
  switch (fork.kind) {
    case StartFork::Kind::kNone:
      return;
    case StartFork::Kind::kWithToken:
      start->AddFork(fork.parent, pid, fork.token);
      if (env.actions != nullptr) AddSpawnActions(start, pid, env.actions);
      return;
    case StartFork::Kind::kKernels: {
      const int parent = static_cast<int>(RawSyscall0(SYS_getppid));
      start->AddForkWithAlternate(parent, pid, AlternateParent(fork.exec_pid, parent));
      return;
    }
  }
}

// E with the program the kernel ran (for execveat/fexecve, the path our wrapper resolved
// before the exec, in place of /dev/fd/N).
FILEMON_START_TEXT void AddStartExec(BatchMessage* start, const StartEnvironment& env, int pid) {
  const char* execfn = reinterpret_cast<const char*>(AuxValue(AT_EXECFN));
  if (execfn != nullptr && StartsWith(execfn, kDevFd) && env.exec != nullptr) {
    execfn = env.exec;
  }
  if (execfn != nullptr) start->AddExecPath(WireKind::kExec, pid, execfn);
}

// The start of a traced process. Every process pays for it, so it stays lean: one walk of the
// environment, a few system calls, one message, and no stack or library page that an untraced
// start would not touch anyway where that can be helped (page faults are its largest cost).
FILEMON_START_TEXT void Init() {
  const StartEnvironment env = ReadStartEnvironment(environ);
  long fd = -1;
  if (!ParseInt(env.fd, &fd)) return;
  const int pid = static_cast<int>(RawSyscall0(SYS_getpid));
  g_pid.store(pid, std::memory_order_relaxed);
  t_pid = pid;
  if (!AdoptSupervisor(env, fd)) return;
  BatchMessage start;
  AddStartFork(&start, env, pid);
  AddStartExec(&start, env, pid);
  RecordLoadedObjects(&start, 0, env.library_path);
  start.Send();
  on_exit(OnExit, nullptr);
}

}  // namespace

FILEMON_START_TEXT void EnsureInit() {
  int expected = 0;
  if (!g_init_state.compare_exchange_strong(expected, 1)) return;  // done or in progress
  Init();
  g_init_state.store(2, std::memory_order_release);
}

namespace {

FILEMON_START_TEXT __attribute__((constructor)) void Constructor() { EnsureInit(); }

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

// ---------------------------------------------------------------------------------------------
// The interposed entry points (exported; see interposer.lds).

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

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
