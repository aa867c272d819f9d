// File: filemon/backends/preload/real_function.h
//
// How the interposer reaches the libc function it wraps: one slot per function, resolved as
// dlsym(RTLD_NEXT) would (next_symbol.h) at its first use (a call that comes early, from
// another library's constructor, resolves its own on the spot), read lock-free afterwards. Each
// unit of libfilemon_preload.so declares the slots it uses:
//
//   namespace {
//   DECLARE_REAL(open, int (*)(const char*, int, ...));
//   }
//   FILEMON_EXPORT int open(const char* path, int flags, ...) { ... REAL(open)(path, flags, mode) }
//
// libc (and libdl) only.

#ifndef FILEMON_BACKENDS_PRELOAD_REAL_FUNCTION_H_
#define FILEMON_BACKENDS_PRELOAD_REAL_FUNCTION_H_

#include <dlfcn.h>

#include <atomic>

#include "filemon/backends/preload/next_symbol.h"
#include "filemon/backends/preload/start_text.h"

// An interposed entry point: exported (the rest of the library is hidden; interposer.lds).
#define FILEMON_EXPORT extern "C" __attribute__((visibility("default")))

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

template <typename Fn>
Fn Resolve(std::atomic<Fn>* slot, const char* name) {
  Fn fn = slot->load(std::memory_order_relaxed);
  if (__builtin_expect(fn == nullptr, 0)) {
    fn = reinterpret_cast<Fn>(ResolveNext(name));
    slot->store(fn, std::memory_order_relaxed);
  }
  return fn;
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

// The slot, then the name (beside the start code: a process's first call of a wrapper reads it,
// start_text.h). An attribute before DECLARE_REAL applies to the slot.
#define REAL(name) Resolve(&real_##name, real_name_##name)
#define DECLARE_REAL(name, type)          \
  std::atomic<type> real_##name{nullptr}; \
  FILEMON_NAME_RODATA constexpr char real_name_##name[] = #name

#endif  // FILEMON_BACKENDS_PRELOAD_REAL_FUNCTION_H_
