// The wrappers of the calls that open, create, rename, link, delete a file or change the
// working directory: each calls the real function and, when it succeeded, sends its records
// (records.h); a failed lookup may be a probe (interposer_probes.h). The open wrappers are the
// hot path of a traced build: a real call, one inline test and one message.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>

#include "filemon/backends/preload/interposer_probes.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/real_function.h"
#include "filemon/backends/preload/records.h"
#include "filemon/backends/preload/wire_format.h"

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

namespace {

DECLARE_REAL(open, int (*)(const char*, int, ...));
DECLARE_REAL(open64, int (*)(const char*, int, ...));
DECLARE_REAL(__open_2, int (*)(const char*, int));
DECLARE_REAL(__open64_2, int (*)(const char*, int));
DECLARE_REAL(openat, int (*)(int, const char*, int, ...));
DECLARE_REAL(openat64, int (*)(int, const char*, int, ...));
DECLARE_REAL(__openat_2, int (*)(int, const char*, int));
DECLARE_REAL(__openat64_2, int (*)(int, const char*, int));
FILEMON_COLD_BSS DECLARE_REAL(creat, int (*)(const char*, mode_t));
FILEMON_COLD_BSS DECLARE_REAL(creat64, int (*)(const char*, mode_t));
DECLARE_REAL(fopen, FILE* (*)(const char*, const char*));
DECLARE_REAL(fopen64, FILE* (*)(const char*, const char*));
FILEMON_COLD_BSS DECLARE_REAL(freopen, FILE* (*)(const char*, const char*, FILE*));
FILEMON_COLD_BSS DECLARE_REAL(freopen64, FILE* (*)(const char*, const char*, FILE*));
DECLARE_REAL(opendir, DIR* (*)(const char*));
FILEMON_COLD_BSS DECLARE_REAL(mkstemp, int (*)(char*));
FILEMON_COLD_BSS DECLARE_REAL(mkstemp64, int (*)(char*));
FILEMON_COLD_BSS DECLARE_REAL(mkostemp, int (*)(char*, int));
FILEMON_COLD_BSS DECLARE_REAL(mkostemp64, int (*)(char*, int));
FILEMON_COLD_BSS DECLARE_REAL(mkstemps, int (*)(char*, int));
FILEMON_COLD_BSS DECLARE_REAL(mkstemps64, int (*)(char*, int));
FILEMON_COLD_BSS DECLARE_REAL(mkostemps, int (*)(char*, int, int));
FILEMON_COLD_BSS DECLARE_REAL(mkostemps64, int (*)(char*, int, int));
DECLARE_REAL(rename, int (*)(const char*, const char*));
DECLARE_REAL(renameat, int (*)(int, const char*, int, const char*));
FILEMON_COLD_BSS DECLARE_REAL(renameat2, int (*)(int, const char*, int, const char*, unsigned));
DECLARE_REAL(link, int (*)(const char*, const char*));
FILEMON_COLD_BSS DECLARE_REAL(linkat, int (*)(int, const char*, int, const char*, int));
DECLARE_REAL(symlink, int (*)(const char*, const char*));
FILEMON_COLD_BSS DECLARE_REAL(symlinkat, int (*)(const char*, int, const char*));
DECLARE_REAL(unlink, int (*)(const char*));
DECLARE_REAL(unlinkat, int (*)(int, const char*, int));
DECLARE_REAL(rmdir, int (*)(const char*));
DECLARE_REAL(chdir, int (*)(const char*));
DECLARE_REAL(fchdir, int (*)(int));
FILEMON_COLD_BSS DECLARE_REAL(tmpfile, FILE* (*)());
FILEMON_COLD_BSS DECLARE_REAL(tmpfile64, FILE* (*)());

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
