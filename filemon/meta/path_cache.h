// File: filemon/meta/path_cache.h (internal to //filemon/meta)
//
// The file-system questions bmake's meta_oodate() asks, each asked once per distinct path:
// stat(2), lstat(2), and realpath(3) including the partial result glibc leaves in the buffer
// when a component is missing (bmake relies on it to ignore missing files under ignored
// directories). Relative paths are resolved against a directory (bmake's .OBJDIR), not the
// process's working directory.
//
// realpath of an existing, non-symlink file with a lexically clean absolute name is computed
// as realpath(dirname) + "/" + basename, with the directory's realpath cached: one lstat per
// file and one realpath per directory instead of one readlink per component per file.
//
// Not thread-safe: one cache per check.

#ifndef FILEMON_META_PATH_CACHE_H_
#define FILEMON_META_PATH_CACHE_H_

#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace meta {
namespace internal {

struct StatResult {
  int error = 0;  // errno of the failed call, 0 on success
  bool is_dir = false;
  bool is_link = false;    // lstat only
  int64_t mtime = 0;       // st_mtime, whole seconds
  int32_t mtime_nsec = 0;  // st_mtim.tv_nsec
};

// A fast hash for paths: every byte counts (paths read by one build often differ only in a
// middle component, e.g. /src/libN/include/config.h), 8 at a time. Inline: it runs once per
// record.
struct PathHash {
  size_t operator()(absl::string_view s) const {
    constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
    const char* p = s.data();
    const size_t n = s.size();
    uint64_t h = n * 0xc2b2ae3d27d4eb4full;
    uint64_t w;
    if (n >= 16) {
      // Two independent lanes over 16 bytes a step: half the multiply chain's latency.
      uint64_t h2 = ~h;
      size_t i = 0;
      for (; i + 16 < n; i += 16) {
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * kMul;
        std::memcpy(&w, p + i + 8, 8);
        h2 = (h2 ^ w) * kMul;
      }
      std::memcpy(&w, p + n - 16, 8);  // the last 16 (overlapping the previous step)
      h = (h ^ w) * kMul;
      std::memcpy(&w, p + n - 8, 8);
      h2 = (h2 ^ w) * kMul;
      h ^= (h2 << 31) | (h2 >> 33);
      w = 0;
    } else if (n >= 8) {
      std::memcpy(&w, p, 8);
      h = (h ^ w) * kMul;
      std::memcpy(&w, p + n - 8, 8);
    } else {
      w = 0;
      if (n > 0) std::memcpy(&w, p, n);
    }
    h = (h ^ w) * kMul;
    // murmur3's fmix64.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }
};

// memcmp(a, b, n) == 0 inline, 8 bytes at a time: keys are short (a path), and the library
// call costs more than the comparison.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  uint64_t x, y;
  while (n >= 8) {
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
    a += 8;
    b += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t u, v, u2, v2;
    std::memcpy(&u, a, 4);
    std::memcpy(&v, b, 4);
    std::memcpy(&u2, a + n - 4, 4);
    std::memcpy(&v2, b + n - 4, 4);
    return u == v && u2 == v2;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

class PathCache {
 public:
  // `dir_fd` (not owned) is the directory relative paths are resolved against; `dir` its
  // absolute name (for realpath of relative names).
  PathCache(int dir_fd, std::string dir) : dir_fd_(dir_fd), dir_(std::move(dir)) {}
  ~PathCache();
  PathCache(const PathCache&) = delete;
  PathCache& operator=(const PathCache&) = delete;

  // stat(2) (follows symlinks).
  const StatResult& Stat(absl::string_view path);
  // lstat(2).
  const StatResult& Lstat(absl::string_view path);
  // realpath(3) of an absolute or relative path. On failure, returns false and sets `*out` to
  // what glibc leaves in the caller's buffer for ENOENT: the resolved existing prefix plus the
  // first missing component.
  bool Realpath(absl::string_view path, std::string* out);

  size_t stat_calls() const { return stat_calls_; }

  // What is known of one path. `tag` is the caller's own per-path memo (-1: unset), kept here
  // so that one hash lookup (on keys stored compactly, not in the caller's big buffer) serves
  // both the caller's question and the stat.
  struct Entry {
    bool have_stat = false, have_lstat = false;
    int8_t tag = -1;
    StatResult stat, lstat;
  };
  // The reference is valid as long as the cache.
  Entry& Find(absl::string_view path) { return Find(path, PathHash()(path)); }
  // The same with `hash` == PathHash()(path). Inline: it runs once per record, and almost
  // always finds the path in the first slot or two.
  Entry& Find(absl::string_view path, uint64_t hash) {
    const uint32_t tag = static_cast<uint32_t>(hash >> 32);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.node == nullptr) return Insert(path, hash, i);
      if (s.tag == tag && s.size == path.size() &&
          SameBytes(s.node->key(), path.data(), path.size())) {
        return s.node->entry;
      }
    }
  }
  // stat(2) of `path`, whose entry is `e` (from `Find(path)`).
  const StatResult& Stat(absl::string_view path, Entry& e);

 private:
  absl::string_view Keep(absl::string_view s);
  bool RealDir(absl::string_view dir, std::string* out);
  bool SlowRealpath(absl::string_view path, std::string* out);
  void DoStat(absl::string_view path, bool follow, StatResult* out);
  // An O_PATH descriptor of the absolute directory `dir` once it has been asked for often
  // enough to pay for its open(2), else -1.
  int DirFd(absl::string_view dir);

  int dir_fd_;
  std::string dir_;
  // The path table: open addressing with linear probing over compact slots (hash tag,
  // length, node), each node holding its Entry followed by the path's bytes in the arena. A
  // lookup that finds its path reads the slot array (small enough to stay in cache while the
  // .meta streams past) and one node, where a general map would read a control byte, a wide
  // slot and a separately stored key.
  struct Node {
    Entry entry;
    const char* key() const { return reinterpret_cast<const char*>(this + 1); }
  };
  struct Slot {
    Node* node = nullptr;
    uint32_t tag = 0;  // the hash's upper half
    uint32_t size = 0;
  };
  // Adds `path` (not present; `i` is the free slot its probe ended at).
  Entry& Insert(absl::string_view path, uint64_t hash, size_t i);
  void Grow();
  char* Allocate(size_t size);                         // from the arena, 8-byte aligned
  std::vector<Slot> slots_ = std::vector<Slot>(1024);  // a power of two
  size_t used_ = 0;
  // realpath of directories: success flag + result (partial on failure).
  absl::flat_hash_map<absl::string_view, std::pair<bool, std::string>> dirs_;
  // Directories of stat'ed absolute names: uses so far, then the descriptor (or -1 when its
  // open failed; the full name is used then).
  struct DirSlot {
    int uses = 0;
    OwnedFd fd;
  };
  absl::flat_hash_map<absl::string_view, DirSlot> dir_fds_;
  std::vector<std::unique_ptr<char[]>> arena_;
  size_t arena_left_ = 0;
  char* arena_next_ = nullptr;
  std::string scratch_;
  size_t stat_calls_ = 0;
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_PATH_CACHE_H_
