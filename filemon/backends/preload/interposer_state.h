// File: filemon/backends/preload/interposer_state.h
//
// The interposer's process-wide state: the descriptors to the supervisor, the cached pid, the
// options the supervisor passed, and the count of this process's creations. Set once by the
// start (interposer.cc, Init) and in fork children, read lock-free afterwards by every unit of
// libfilemon_preload.so. Hidden: nothing here is exported from the library.
//
// Active() and Pid() are on every wrapper's path: they stay inline.
//
// libc-only, async-signal-safe.

#ifndef FILEMON_BACKENDS_PRELOAD_INTERPOSER_STATE_H_
#define FILEMON_BACKENDS_PRELOAD_INTERPOSER_STATE_H_

#include <sys/syscall.h>

#include <atomic>
#include <cstdint>

#include "filemon/backends/preload/raw_syscall.h"

// Zero-initialized data that most processes never write. The loader zeroes .bss up to the end
// of the page where the file's data ends, which it touches anyway (the library has no RELRO,
// so that is the page of .dynamic and the GOT too); .bss beyond that page is fresh memory, and
// its first write in each process is a page fault. So .bss must stay within that page
// (interposer_layout_test checks it), and what is rarely written goes after it, in
// .lbss (x86-64's large-data .bss, which the linker places after .bss), constant-initialized
// (`= {}`: no startup code writes it).
#if defined(__x86_64__)
#define FILEMON_COLD_BSS __attribute__((section(".lbss")))
#else
#define FILEMON_COLD_BSS
#endif

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

extern std::atomic<int> g_fd;           // the socket to the supervisor; -1: inactive
extern std::atomic<int> g_pipe;         // the pipe to the supervisor; -1: use the socket
extern std::atomic<int> g_pid;          // this process's pid
extern std::atomic<bool> g_pid_shared;  // a CLONE_VM child shares our memory: ask the kernel
// The pid whose X this process image has written (a vfork child shares this memory, so a flag
// would let the child's exit silence its parent's).
extern std::atomic<int> g_exit_recorded;
extern bool g_absolute;          // TraceOptions::absolute_paths
extern bool g_auto;              // the `auto` backend: hand unpreloadable programs to the helper
extern bool g_probes;            // TraceOptions::probes: failed lookups become N
extern const char* g_lib_path;   // this library, as the loader found it (its link map's name)
extern char g_socket_name[108];  // the supervisor's abstract socket, for reconnecting
extern char g_options[64];       // FILEMON_PRELOAD_OPTIONS as received
extern char g_helper[512];       // FILEMON_PRELOAD_HELPER (auto): runs a program under ptrace

// `__thread`, not `thread_local`: no TLS wrapper call on each access from another unit.
// The pid as seen by this thread. A `CLONE_VM|CLONE_VFORK` child changes its (shared) copy
// while the parent thread is suspended; the parent restores it.
extern __thread int t_pid;
// Set while this thread is inside fork (between our atfork prepare and parent/child handlers):
// the handlers a program registered before its first fork run in the child before ours.
extern __thread bool t_forking;

// Process creations (wire_format.h, "F from both sides"): this process's count of them, whose
// value is each creation's token (never 0); the creations whose parent-side F is not sent yet
// (an exit waits for them: X must follow their F); and the token of the fork this thread is
// in, which the child's side reads (a signal handler's nested fork restores it).
extern std::atomic<uint32_t> g_creations;
extern std::atomic<int> g_creations_in_flight;
extern __thread uint32_t t_fork_token;

// 0: not initialised; 1: initialising; 2: ready. Libraries initialised before this one (e.g.
// libselinux's constructor reading /proc/filesystems) call us before our constructor runs:
// the first interposed call initialises, so that E and the loader's opens come first.
extern std::atomic<int> g_init_state;
// Runs the start once (interposer.cc).
void EnsureInit();

// True once the start found the supervisor: the wrappers record; false: pure pass-through.
inline bool Active() {
  if (__builtin_expect(g_init_state.load(std::memory_order_acquire) != 2, 0)) EnsureInit();
  return g_fd.load(std::memory_order_relaxed) >= 0;
}

// This process's pid, cached per thread (the kernel's getpid is a system call since glibc 2.25).
inline int Pid() {
  if (__builtin_expect(g_pid_shared.load(std::memory_order_relaxed) || t_forking, 0)) {
    return static_cast<int>(RawSyscall0(SYS_getpid));
  }
  int pid = t_pid;
  if (__builtin_expect(pid == 0, 0)) pid = t_pid = g_pid.load(std::memory_order_relaxed);
  return pid;
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_INTERPOSER_STATE_H_
