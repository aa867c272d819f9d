// File: filemon/backends/preload/locale_cache.h
//
// The setlocale(CATEGORY, "") cache. The files such a call opens depend only on the locale
// variables, the installed locale data, and what the process's earlier setlocale(..., "")
// calls loaded; nearly every program of a build makes the same one or two calls at start
// (gcc, cc1 and as: LC_CTYPE then LC_MESSAGES; many others: LC_ALL). The first process that
// makes a call in a libc window (libc_window.h) passes the list of files to its descendants
// (FILEMON_PRELOAD_LOCALE, launch_protocol.h), and a descendant making the same call after the
// same earlier calls, with the same variables, calls setlocale without a window and writes the
// same records. Anything else that loads locale data (a setlocale to a named locale,
// newlocale, iconv_open) ends the caching for the process (`dirty`).
//
// Text format: entries separated by kLocaleEntryEnd, each KEY kLocaleSeparator PATH
// kLocaleSeparator PATH ...; KEY is the history (the categories of the earlier calls, "C1,C2,"),
// '|', the category, then ';' and the value of each variable setlocale(..., "") reads.
//
// A tree-wide copy (SharedLocaleCache) lives in shared memory the supervisor made: siblings
// (every gcc a shell starts) learn from each other there.
//
// libc-only, allocates nothing.

#ifndef FILEMON_BACKENDS_PRELOAD_LOCALE_CACHE_H_
#define FILEMON_BACKENDS_PRELOAD_LOCALE_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/launch_protocol.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

inline constexpr char kLocaleSeparator = '\x1d';
inline constexpr char kLocaleEntryEnd = '\x1e';

// One process's cache, inherited and grown by its own windows.
struct LocaleCache {
  // The entries, NUL-terminated; "" when none. Small enough that all of the library's
  // variables share one page (an untouched page costs a fault in every process); a process
  // whose entries would not fit runs its setlocale calls in windows.
  char text[2048];
  size_t size;
  bool collecting;    // a window is recording the paths into `text`
  bool bad;           // the window saw something the cache cannot replay
  char history[128];  // "C1,C2,": this process's setlocale(..., "") calls so far
  size_t history_size;
  bool dirty;  // something else loaded locale data: no more caching here
};

// Starts `cache` with `inherited` (FILEMON_PRELOAD_LOCALE's value); one that does not fit whole
// is ignored, never cut.
void LoadLocaleCache(LocaleCache& cache, const char* inherited);

// Writes the key of setlocale(`category`, "") in `cache`'s history, with the locale variables
// of `envp`, to `out`. Returns its length, or 0 when it does not fit or a value holds a
// separator (such a call is not cached).
size_t LocaleKey(const LocaleCache& cache, int category, char* const* envp, char* out, size_t size);

// The paths of the entry for `key` (starting with a separator; empty when the call opened
// nothing) and, in `*end`, the entry's end; nullptr when there is no such entry.
const char* FindLocaleEntry(const LocaleCache& cache, const char* key, size_t key_len,
                            const char** end);

// Adds `category` to the history after a successful setlocale(`category`, ""); a history that
// would not fit makes the cache dirty.
void NoteLocaleCall(LocaleCache& cache, int category);

// Starts a new entry with `text` (a key, or a whole entry found in the shared cache). False,
// and nothing written, if it does not fit.
bool AppendLocaleEntry(LocaleCache& cache, const char* text, size_t size);

// While `collecting`: appends `path`, opened with `flags` by the window, to the entry being
// built; an open the cache cannot replay (for writing, a path with a separator, no room)
// marks the entry bad.
void CollectLocaleOpen(LocaleCache& cache, const char* path, int flags);

// Drops the entry that started at `start` (the size before AppendLocaleEntry).
void DropLocaleEntry(LocaleCache& cache, size_t start);

// The tree-wide cache, kLocaleShmBytes of shared memory. Entries are appended by any process
// without a lock: a writer reserves room with one atomic add, writes the entry, then sets its
// `ready` flag; readers stop at the first entry not ready (a writer killed half-way only hides
// what follows).
struct SharedLocaleEntry {
  uint32_t size;                // of the text (KEY, then SEPARATOR PATH ...)
  std::atomic<uint32_t> ready;  // 1 once the text is written
};
struct SharedLocaleCache {
  std::atomic<uint32_t> end;  // bytes of `data` reserved so far
  uint32_t unused;
  char data[kLocaleShmBytes - 8];
};
static_assert(sizeof(SharedLocaleEntry) == 8 && sizeof(SharedLocaleCache) == kLocaleShmBytes,
              "shared locale cache layout");

// The whole text of the shared entry for `key` and, in `*end`, its end; nullptr if none.
const char* FindSharedLocaleEntry(SharedLocaleCache* shared, const char* key, size_t key_len,
                                  const char** end);

// Adds an entry (`text`, a whole entry) to the shared cache; nothing if it is full.
void AddSharedLocaleEntry(SharedLocaleCache* shared, const char* text, size_t size);

// This process's cache, and the path of the tree-wide one ("" when the supervisor made none).
extern LocaleCache g_locale;
extern char g_locale_shm_path[128];

// The tree-wide cache, mapped at the first call; nullptr when there is none.
SharedLocaleCache* LocaleShm();

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_LOCALE_CACHE_H_
