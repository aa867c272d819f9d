// File: filemon/backends/preload/libc_window.h
//
// Files that libc opens internally (setlocale's locale data, NSS, time zones, iconv modules)
// never pass through an interposable symbol. For the libc functions that do so, the call runs
// in a Syscall User Dispatch window (Linux >= 5.11, x86-64): every system call that libc makes
// during the window stops in our SIGSYS handler, which makes the call itself (from this
// library's text, which the kernel lets through) and records the opens that succeed
// (records.h), collecting them for the setlocale cache when it asks (locale_cache.h). Outside
// the windows the selector is ALLOW and nothing is trapped; a window costs two rt_sigaction
// calls plus one signal per system call made inside it. Elsewhere a window just runs the call.
//
// libc-only.
//
// Example:
//   return InLibcWindow([&] { return real_getpwnam(name); });

#ifndef FILEMON_BACKENDS_PRELOAD_LIBC_WINDOW_H_
#define FILEMON_BACKENDS_PRELOAD_LIBC_WINDOW_H_

#include <signal.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/raw_syscall.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// This library's executable segment, found by the start's walk of the link map.
void NoteOwnText(uintptr_t start, size_t size);
// Whether this thread's windows trap (the kernel has Syscall User Dispatch).
bool InLibcWindowWorks();
// Whether windows can work in this process.
bool LibcWindowAvailable();
// A fork child's thread has no dispatch set up yet.
void ResetSyscallWindowAfterFork();

#if defined(__x86_64__)

extern uintptr_t g_text_start;  // this library's executable segment: system calls from here pass
extern size_t g_text_size;
extern std::atomic<bool> g_dispatch_failed;
extern __thread char t_selector;
extern __thread bool t_dispatch_on;
extern __thread bool t_in_window;

inline constexpr unsigned long kSaRestorer = 0x04000000;  // SA_RESTORER (kernel ABI)
inline constexpr int kPrSetSyscallUserDispatch = 59;
inline constexpr int kDispatchOn = 1;
inline constexpr char kSelectorAllow = 0;
inline constexpr char kSelectorBlock = 1;

extern "C" void filemon_preload_restorer();

struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};

// The SIGSYS handler of a window.
void OnTrappedSyscall(int, siginfo_t* info, void* context);

// True inside a window (the wrappers then leave the recording to the trap handler).
inline bool InLibcWindowNow() { return t_in_window; }

// Runs `fn` with libc's own system calls trapped and its opens recorded.
template <typename Fn>
auto InLibcWindow(Fn fn) -> decltype(fn()) {
  if (!Active() || g_text_size == 0 || t_in_window) return fn();
  if (!t_dispatch_on) {
    if (RawSyscall6(SYS_prctl, kPrSetSyscallUserDispatch, kDispatchOn, g_text_start, g_text_size,
                    reinterpret_cast<long>(&t_selector), 0) != 0) {
      g_dispatch_failed.store(true);
      return fn();  // kernel without Syscall User Dispatch
    }
    t_dispatch_on = true;
  }
  KernelSigaction ours{};
  ours.handler = OnTrappedSyscall;
  ours.flags = SA_SIGINFO | kSaRestorer;
  ours.restorer = filemon_preload_restorer;
  ours.mask = ~uint64_t{0};
  KernelSigaction saved{};
  if (RawSyscall4(SYS_rt_sigaction, SIGSYS, reinterpret_cast<long>(&ours),
                  reinterpret_cast<long>(&saved), 8) != 0) {
    return fn();
  }
  t_in_window = true;
  t_selector = kSelectorBlock;
  __asm__ volatile("" ::: "memory");
  auto result = fn();
  __asm__ volatile("" ::: "memory");
  t_selector = kSelectorAllow;
  t_in_window = false;
  RawSyscall4(SYS_rt_sigaction, SIGSYS, reinterpret_cast<long>(&saved), 0, 8);
  return result;
}

#else

inline bool InLibcWindowNow() { return false; }
template <typename Fn>
auto InLibcWindow(Fn fn) -> decltype(fn()) {
  return fn();
}

#endif

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_LIBC_WINDOW_H_
