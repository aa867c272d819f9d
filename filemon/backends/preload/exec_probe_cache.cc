#include "filemon/backends/preload/exec_probe_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "filemon/backends/preload/raw_syscall.h"

namespace filemon {
namespace preload_internal {

// For tests only (declared by the test, in no header): called by a writer that has claimed an
// entry, before it fills it.
void (*g_after_claim_hook)() = nullptr;

namespace {

// What says that a file is the one probed before: a new file (another inode), a rewrite (size,
// times) or a change of mode (the change time, and the mode itself) make another key.
constexpr size_t kKeyWords = 8;
struct Key {
  uint64_t words[kKeyWords];
};

Key KeyOf(const struct stat& st) {
  return Key{{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
              static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_mode),
              static_cast<uint64_t>(st.st_mtim.tv_sec), static_cast<uint64_t>(st.st_mtim.tv_nsec),
              static_cast<uint64_t>(st.st_ctim.tv_sec), static_cast<uint64_t>(st.st_ctim.tv_nsec)}};
}

// A file remembered as preloadable. `sequence`: 0 empty, odd while a writer fills it (Remember).
struct Entry {
  std::atomic<uint64_t> sequence{0};
  std::atomic<uint64_t> key[kKeyWords] = {};
};

constexpr size_t kEntries = 8;
Entry g_entries[kEntries];
std::atomic<uint64_t> g_remembered{0};

Entry& EntryFor(const Key& key) { return g_entries[(key.words[0] * 31 + key.words[1]) % kEntries]; }

bool Remembered(const Key& key) {
  Entry& entry = EntryFor(key);
  const uint64_t before = entry.sequence.load(std::memory_order_acquire);
  if (before == 0 || (before & 1) != 0) return false;
  bool same = true;
  for (size_t i = 0; i < kKeyWords; ++i) {
    same = entry.key[i].load(std::memory_order_relaxed) == key.words[i] && same;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return same && entry.sequence.load(std::memory_order_relaxed) == before;
}

// An entry's writer claims it by making `sequence` odd with its pid in the high half (a
// process, so that a vforked child killed before its last store can be told gone); the low half
// counts. A writer that finds the entry claimed by a process that no longer exists takes it
// over; one that finds its writer alive (a zombie counts: until its reaping) leaves it alone.
// The kill(2) for that look, and the getpid, are paid only after a full probe.
constexpr uint64_t kCounter = 0xffffffffu;

void Remember(const Key& key) {
  Entry& entry = EntryFor(key);
  uint64_t before = entry.sequence.load(std::memory_order_relaxed);
  if ((before & 1) != 0) {
    const long writer = static_cast<long>(before >> 32);
    if (writer == 0 || RawSyscall2(SYS_kill, writer, 0) != -ESRCH) return;  // at it still
  }
  const uint64_t self = static_cast<uint64_t>(RawSyscall0(SYS_getpid));
  const uint64_t claimed = (self << 32) | (((before & kCounter) + 1) & kCounter) | 1;
  if (!entry.sequence.compare_exchange_strong(before, claimed, std::memory_order_acquire)) {
    return;  // another writer came first
  }
  if (g_after_claim_hook != nullptr) g_after_claim_hook();
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 0; i < kKeyWords; ++i) {
    entry.key[i].store(key.words[i], std::memory_order_relaxed);
  }
  entry.sequence.store(((claimed & kCounter) + 1) & kCounter, std::memory_order_release);
}

// The identity of `path`'s file, if it is a regular file without set-ID bits.
bool Identify(const char* path, Key* key) {
  struct stat st;
  if (RawSyscall4(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(path),
                  reinterpret_cast<long>(&st), 0) != 0 ||
      !S_ISREG(st.st_mode) || (st.st_mode & (S_ISUID | S_ISGID)) != 0) {
    return false;
  }
  *key = KeyOf(st);
  return true;
}

bool SameKey(const Key& a, const Key& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

}  // namespace

ExecProbe ProbeExecutableRemembered(const char* path) {
  Key key;
  const bool identified = Identify(path, &key);
  const size_t length = std::strlen(path);
  if (identified && length < sizeof(ExecProbe::judged) && Remembered(key)) {
    g_remembered.fetch_add(1, std::memory_order_relaxed);
    ExecProbe probe;
    probe.kind = ExecKind::kPreloadable;
    std::memcpy(probe.judged, path, length + 1);
    return probe;
  }
  ExecProbe probe = ProbeExecutable(path);
  // Remembered only if the file judged is the one identified, unchanged while it was read: a
  // program (not a script's interpreter), the same identity before and after the probe.
  Key after;
  if (identified && probe.kind == ExecKind::kPreloadable && std::strcmp(probe.judged, path) == 0 &&
      Identify(path, &after) && SameKey(key, after)) {
    Remember(key);
  }
  return probe;
}

uint64_t RememberedProbesForTesting() { return g_remembered.load(std::memory_order_relaxed); }

}  // namespace preload_internal
}  // namespace filemon
