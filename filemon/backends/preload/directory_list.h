// File: filemon/backends/preload/directory_list.h
//
// Where the dynamic loader found a library, as the process start needs it to reconstruct the
// loader's opens (a library from a system directory not named in LD_LIBRARY_PATH was found
// through /etc/ld.so.cache, which the loader then opened first).
//
// libc-only, allocates nothing.

#ifndef FILEMON_BACKENDS_PRELOAD_DIRECTORY_LIST_H_
#define FILEMON_BACKENDS_PRELOAD_DIRECTORY_LIST_H_

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// True if `path` lies below one of the loader's system library directories (/lib, /lib64,
// /usr/lib, /usr/lib64, /usr/local/lib).
bool IsSystemLibraryDir(const char* path);

// True if `path` lies directly in one of the ':'-separated directories of `list` (trailing
// '/'s ignored; an empty entry names no directory); false for a null `list`.
bool InDirectoryList(const char* path, const char* list);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_DIRECTORY_LIST_H_
