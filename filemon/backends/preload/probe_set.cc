#include "filemon/backends/preload/probe_set.h"

namespace filemon {
namespace preload_internal {

uint64_t ProbeSet::Hash(const void* data, size_t size) {
  // FNV-1a over the bytes, then splitmix64's finalizer so that every bit of the key counts
  // in the slot index.
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3u;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9u;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebu;
  h ^= h >> 31;
  return h == 0 ? 1 : h;
}

bool ProbeSet::FirstTime(uint64_t hash) {
  // Linear probing over at most a quarter of the table: past that the table is too full for
  // an answer worth its cost, and the supervisor decides.
  const size_t limit = (mask_ + 1) / 4;
  size_t index = static_cast<size_t>(hash) & mask_;
  for (size_t step = 0; step < limit; ++step, index = (index + 1) & mask_) {
    uint64_t seen = slots_[index].load(std::memory_order_relaxed);
    if (seen == hash) return false;
    if (seen == 0) {
      if (slots_[index].compare_exchange_strong(seen, hash, std::memory_order_relaxed)) {
        return true;
      }
      if (seen == hash) return false;  // another thread stored the same key first
    }
  }
  return true;
}

}  // namespace preload_internal
}  // namespace filemon
