// File: filemon/backends/preload/own_text.h
//
// The executable segment of the object this unit is linked into (libfilemon_preload.so in a
// traced process), found from its own ELF header (`__ehdr_start`, which the linker defines in
// every object it links).
//
// Why: a traced process runs code spread over most of the interposer's text (the exec and open
// wrappers, the setlocale cache; the start and the exit lie together, start_text.h). Touched
// one page at a time, that text costs a page fault per 64 KiB window the kernel maps around
// each fault (two to three for this library, depending on where it was loaded);
// `PrefaultOwnText` maps all of it with one `madvise(MADV_POPULATE_READ)` (Linux >= 5.14;
// elsewhere the call fails and the text faults in as before). The start calls it first, before
// it reads the environment's names: as gold links the library, the same segment holds its
// read-only data. The pages are the page cache's, shared by every process: nothing is copied.
//
// libc-only, async-signal-safe.

#ifndef FILEMON_BACKENDS_PRELOAD_OWN_TEXT_H_
#define FILEMON_BACKENDS_PRELOAD_OWN_TEXT_H_

#include <cstddef>
#include <cstdint>

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// The executable PT_LOAD segment of this object, widened to whole pages. `size` 0: none.
struct TextRange {
  uintptr_t start = 0;
  size_t size = 0;
};
TextRange OwnTextRange();

// Maps the whole of `OwnTextRange()` into this process's page tables; the kernel's result
// (0, or -errno: e.g. -EINVAL on a kernel without MADV_POPULATE_READ), which callers may ignore.
long PrefaultOwnText();

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_OWN_TEXT_H_
