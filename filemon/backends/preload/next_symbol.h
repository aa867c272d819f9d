// File: filemon/backends/preload/next_symbol.h
//
// The function that dlsym(RTLD_NEXT, name) returns to an object, found without dlsym: the
// default version of a function defined in one of the objects the loader lists after that
// object (its list for debuggers, _r_debug), looked up in their GNU hash tables.
//
// Why: dlsym takes the loader's lock, whose pthread_mutex_lock and pthread_mutex_unlock are two
// pages of libc that a small program never touches otherwise, and every traced process looks
// up the real function of each wrapper it calls, once.
//
// Only the plain case is answered; nullptr (and the caller asks dlsym) for anything else: the
// list being changed, an object without a GNU hash table, an IFUNC, a name not found.
//
// libc-only, allocates nothing, makes no system call, takes no lock.

#ifndef FILEMON_BACKENDS_PRELOAD_NEXT_SYMBOL_H_
#define FILEMON_BACKENDS_PRELOAD_NEXT_SYMBOL_H_

#include <link.h>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// The function `name` in the objects after the one whose dynamic section is `self_dynamic`,
// walking the list from `first`; nullptr if not found plainly (see above).
void* FindNextFunction(const struct link_map* first, const void* self_dynamic, const char* name);

// The real function `name` for this library's wrappers: FindNextFunction over the loader's
// list, else dlsym(RTLD_NEXT, name).
void* ResolveNext(const char* name);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_NEXT_SYMBOL_H_
