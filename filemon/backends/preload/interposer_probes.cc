// The stat family's wrappers, for the absent-path probes of TraceOptions::probes, and the
// interposer's per-process memory of the probes it sent (see interposer_probes.h).
//
// Each wrapper calls the real function and, only when it failed, asks whether the failure is
// a probe: the cost of a successful call (nearly all of them) is one predictable branch on
// its result, and nothing is sent without --probes. The entry points are the ones programs
// call: the stat functions glibc exports since 2.33 (stat, lstat, fstatat and their 64
// forms), the versioned __xstat family that programs built against an older glibc call,
// statx, access, faccessat, euidaccess/eaccess, readlink, readlinkat and their fortified
// __*_chk forms. glibc's own internal calls pass through none of them: realpath, whose
// readlink of each prefix ptrace sees, is wrapped as a whole (the prefix that was absent).

#include "filemon/backends/preload/interposer_probes.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/next_symbol.h"
#include "filemon/backends/preload/probe_set.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/start_text.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {
namespace {

// The table of sent probes: mapped at the first probe (most processes never send one), and
// unmapped in a fork child (the parent's copy describes another pid). 8192 slots of 8 bytes:
// about 2,000 paths before the table stops answering (probe_set.h).
constexpr size_t kProbeSlots = 8192;
std::atomic<std::atomic<uint64_t>*> g_probe_slots{nullptr};

std::atomic<uint64_t>* ProbeSlots() {
  std::atomic<uint64_t>* slots = g_probe_slots.load(std::memory_order_acquire);
  if (__builtin_expect(slots != nullptr, 1)) return slots;
  const long map = RawSyscall6(SYS_mmap, 0, kProbeSlots * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map < 0 && map > -4096) return nullptr;
  auto* fresh = reinterpret_cast<std::atomic<uint64_t>*>(map);
  if (g_probe_slots.compare_exchange_strong(slots, fresh, std::memory_order_acq_rel)) {
    return fresh;
  }
  RawSyscall2(SYS_munmap, map, kProbeSlots * sizeof(uint64_t));  // another thread's won
  return slots;
}

// True the first time this process image asks about the bytes of `record` (or when it can no
// longer tell).
bool ProbeFirstTime(const char* record, size_t size) {
  std::atomic<uint64_t>* slots = ProbeSlots();
  if (slots == nullptr) return true;
  ProbeSet set(slots, kProbeSlots);
  return set.FirstTime(ProbeSet::Hash(record, size));
}

}  // namespace

bool ProbesWanted() { return Active() && g_probes; }

// One message of one N record, unless this process image sent the same bytes before (the
// header holds the sender's pid, the record the pid and the path as written).
void SendProbe(int dirfd, const char* path) {
  if (!ProbesWanted() || path == nullptr || path[0] == '\0') return;
  Message m;
  m.Add(WireKind::kNotFound, Pid(), dirfd, path);
  if (!m.empty() && !ProbeFirstTime(m.data(), m.size())) return;
  m.Send();
}

void ForgetProbesInChild() {
  std::atomic<uint64_t>* slots = g_probe_slots.exchange(nullptr, std::memory_order_acq_rel);
  if (slots != nullptr) {
    RawSyscall2(SYS_munmap, reinterpret_cast<long>(slots), kProbeSlots * sizeof(uint64_t));
  }
}

namespace {

// The real function `name` (of `old_version`, if not null), looked up once per process: not
// cold (every process that calls a wrapper of the stat family runs it; .text.unlikely lies
// far from the wrappers, one more page to touch).
FILEMON_FIRST_CALL_TEXT __attribute__((noinline)) void* LookUp(const char* name,
                                                               const char* old_version) {
  // The __xstat family survives only as compat symbols, which dlsym does not return.
  return old_version != nullptr ? dlvsym(RTLD_NEXT, name, old_version) : ResolveNext(name);
}

template <typename Fn>
Fn ResolveProbed(std::atomic<Fn>* slot, const char* name, const char* old_version) {
  Fn fn = slot->load(std::memory_order_relaxed);
  if (__builtin_expect(fn == nullptr, 0)) {
    fn = reinterpret_cast<Fn>(LookUp(name, old_version));
    slot->store(fn, std::memory_order_relaxed);
  }
  return fn;
}

// After the real call failed (`rc` < 0): a probe of `path` (relative to `dirfd`) when errno
// says it is absent (OnFailedLookup). errno is the real call's, kept as it was.
__attribute__((noinline)) void Failed(int dirfd, const char* path) {
  OnFailedLookup(dirfd, path, errno);
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

using filemon::preload_internal::Failed;
using filemon::preload_internal::ProbesOff;
using filemon::preload_internal::ProbesWanted;
using filemon::preload_internal::ResolveProbed;
using filemon::preload_internal::SendProbe;

#define FILEMON_PROBE_EXPORT extern "C" __attribute__((visibility("default")))

// `ret name params`: calls the real `name` with `args`; `version`: the symbol version to bind
// (nullptr: the default one); `failed`: what to do when it returned < 0. Without probes the
// real function is called in tail position after one test of a flag; the rest is out of line.
#define PROBED_WRAPPER(ret, name, version, params, args, failed)                         \
  namespace {                                                                            \
  std::atomic<ret(*) params> real_probed_##name{nullptr};                                \
  FILEMON_NAME_RODATA constexpr char probed_name_##name[] = #name;                       \
  __attribute__((noinline)) ret Probed_##name params {                                   \
    const ret rc = ResolveProbed(&real_probed_##name, probed_name_##name, version) args; \
    if (__builtin_expect(rc < 0, 0)) failed;                                             \
    return rc;                                                                           \
  }                                                                                      \
  }                                                                                      \
  FILEMON_PROBE_EXPORT ret name params noexcept {                                        \
    if (__builtin_expect(ProbesOff(), 1)) {                                              \
      return ResolveProbed(&real_probed_##name, probed_name_##name, version) args;       \
    }                                                                                    \
    return Probed_##name args;                                                           \
  }

#define PATH_WRAPPER(ret, name, version, params, args, path) \
  PROBED_WRAPPER(ret, name, version, params, args, Failed(AT_FDCWD, path))
// `names_fd`: true when the call names a descriptor, not a path (AT_EMPTY_PATH: fstat through
// fstatat or statx, which ptrace's filter lets through unseen).
#define AT_WRAPPER(ret, name, version, params, args, dirfd, path, names_fd) \
  PROBED_WRAPPER(ret, name, version, params, args, if (!(names_fd)) Failed(dirfd, path))

PATH_WRAPPER(int, stat, nullptr, (const char* path, struct stat* st), (path, st), path)
PATH_WRAPPER(int, stat64, nullptr, (const char* path, struct stat64* st), (path, st), path)
PATH_WRAPPER(int, lstat, nullptr, (const char* path, struct stat* st), (path, st), path)
PATH_WRAPPER(int, lstat64, nullptr, (const char* path, struct stat64* st), (path, st), path)
AT_WRAPPER(int, fstatat, nullptr, (int dirfd, const char* path, struct stat* st, int flags),
           (dirfd, path, st, flags), dirfd, path, flags& AT_EMPTY_PATH)
AT_WRAPPER(int, fstatat64, nullptr, (int dirfd, const char* path, struct stat64* st, int flags),
           (dirfd, path, st, flags), dirfd, path, flags& AT_EMPTY_PATH)
AT_WRAPPER(int, statx, nullptr,
           (int dirfd, const char* path, int flags, unsigned mask, struct statx* st),
           (dirfd, path, flags, mask, st), dirfd, path, flags& AT_EMPTY_PATH)

// glibc before 2.33: stat and friends were inline calls of these (the first argument is the
// struct's version).
#define FILEMON_GLIBC_BASE "GLIBC_2.2.5"
PATH_WRAPPER(int, __xstat, FILEMON_GLIBC_BASE, (int ver, const char* path, struct stat* st),
             (ver, path, st), path)
PATH_WRAPPER(int, __xstat64, FILEMON_GLIBC_BASE, (int ver, const char* path, struct stat64* st),
             (ver, path, st), path)
PATH_WRAPPER(int, __lxstat, FILEMON_GLIBC_BASE, (int ver, const char* path, struct stat* st),
             (ver, path, st), path)
PATH_WRAPPER(int, __lxstat64, FILEMON_GLIBC_BASE, (int ver, const char* path, struct stat64* st),
             (ver, path, st), path)
AT_WRAPPER(int, __fxstatat, FILEMON_GLIBC_BASE,
           (int ver, int dirfd, const char* path, struct stat* st, int flags),
           (ver, dirfd, path, st, flags), dirfd, path, flags& AT_EMPTY_PATH)
AT_WRAPPER(int, __fxstatat64, FILEMON_GLIBC_BASE,
           (int ver, int dirfd, const char* path, struct stat64* st, int flags),
           (ver, dirfd, path, st, flags), dirfd, path, flags& AT_EMPTY_PATH)

PATH_WRAPPER(int, access, nullptr, (const char* path, int mode), (path, mode), path)
PATH_WRAPPER(int, euidaccess, nullptr, (const char* path, int mode), (path, mode), path)
PATH_WRAPPER(int, eaccess, nullptr, (const char* path, int mode), (path, mode), path)
AT_WRAPPER(int, faccessat, nullptr, (int dirfd, const char* path, int mode, int flags),
           (dirfd, path, mode, flags), dirfd, path, false)

PATH_WRAPPER(ssize_t, readlink, nullptr, (const char* path, char* buf, size_t size),
             (path, buf, size), path)
AT_WRAPPER(ssize_t, readlinkat, nullptr, (int dirfd, const char* path, char* buf, size_t size),
           (dirfd, path, buf, size), dirfd, path, false)
// _FORTIFY_SOURCE's forms (Debian builds with it): the same call with the buffer's size.
PATH_WRAPPER(ssize_t, __readlink_chk, nullptr,
             (const char* path, char* buf, size_t size, size_t buf_size),
             (path, buf, size, buf_size), path)
AT_WRAPPER(ssize_t, __readlinkat_chk, nullptr,
           (int dirfd, const char* path, char* buf, size_t size, size_t buf_size),
           (dirfd, path, buf, size, buf_size), dirfd, path, false)

// realpath and canonicalize_file_name: glibc's walk readlinks each prefix of the path with an
// internal call; ptrace sees the one that failed. On ENOENT glibc leaves that prefix (absolute)
// in the caller's buffer; without one, the walk is made again into a buffer of ours, only when
// probes are recorded.
namespace {
std::atomic<char* (*)(const char*, char*)> real_probed_realpath{nullptr};
std::atomic<char* (*)(const char*)> real_probed_canonicalize_file_name{nullptr};
std::atomic<char* (*)(const char*, char*, size_t)> real_probed___realpath_chk{nullptr};
FILEMON_NAME_RODATA constexpr char kRealpath[] = "realpath";
FILEMON_NAME_RODATA constexpr char kCanonicalize[] = "canonicalize_file_name";
FILEMON_NAME_RODATA constexpr char kRealpathChk[] = "__realpath_chk";

__attribute__((noinline)) void RealpathFailed(const char* path, char* resolved) {
  const int error = errno;
  if ((error != ENOENT && error != ENOTDIR) || path == nullptr || !ProbesWanted()) return;
  char prefix[PATH_MAX];
  if (resolved == nullptr) {
    prefix[0] = '\0';
    ResolveProbed(&real_probed_realpath, kRealpath, nullptr)(path, prefix);
    resolved = prefix;
  }
  if (resolved[0] == '/') SendProbe(AT_FDCWD, resolved);
  errno = error;
}
}  // namespace

FILEMON_PROBE_EXPORT char* realpath(const char* path, char* resolved) noexcept {
  const auto real = ResolveProbed(&real_probed_realpath, kRealpath, nullptr);
  if (__builtin_expect(ProbesOff(), 1)) return real(path, resolved);
  char* r = real(path, resolved);
  if (__builtin_expect(r == nullptr, 0)) RealpathFailed(path, resolved);
  return r;
}

// _FORTIFY_SOURCE's form, for a buffer of known size.
FILEMON_PROBE_EXPORT char* __realpath_chk(const char* path, char* resolved, size_t size) noexcept {
  const auto real = ResolveProbed(&real_probed___realpath_chk, kRealpathChk, nullptr);
  if (__builtin_expect(ProbesOff(), 1)) return real(path, resolved, size);
  char* r = real(path, resolved, size);
  if (__builtin_expect(r == nullptr, 0)) RealpathFailed(path, resolved);
  return r;
}

FILEMON_PROBE_EXPORT char* canonicalize_file_name(const char* path) noexcept {
  const auto real = ResolveProbed(&real_probed_canonicalize_file_name, kCanonicalize, nullptr);
  if (__builtin_expect(ProbesOff(), 1)) return real(path);
  char* r = real(path);
  if (__builtin_expect(r == nullptr, 0)) RealpathFailed(path, nullptr);
  return r;
}
