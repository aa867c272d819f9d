#include "filemon/meta/path_facts.h"

#include "filemon/meta/path_rules.h"

namespace filemon {
namespace meta {
namespace internal {

bool PathFacts::Get(absl::string_view p, PathCache::Entry* e) {
  Shard& shard = shards_[PathHash()(p) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.map.find(p);
  if (it == shard.map.end()) return false;
  *e = it->second;
  return true;
}

void PathFacts::Put(absl::string_view p, const PathCache::Entry& e) {
  Shard& shard = shards_[PathHash()(p) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto [it, inserted] = shard.map.emplace(std::string(p), e);
  if (!inserted && ((it->second.tag < 0 && e.tag >= 0) || (!it->second.have_stat && e.have_stat))) {
    it->second = e;  // knows more (a candidate's entry has no ignore decision)
  }
}

PathCache::Entry* KnownEntry(const CheckState& s, absl::string_view p, uint64_t hash,
                             PathCache* cache, PathFacts* facts, std::string* real) {
  PathCache::Entry* e = &cache->Find(p, hash);
  if (e->tag < 0 && facts != nullptr) facts->Get(p, e);  // may know the stat only
  if (e->tag < 0) {
    const bool ignore = IgnorePath(s, p, cache, real);
    e = &cache->Find(p, hash);  // IgnorePath may have added paths (realpath): find it again
    e->tag = ignore ? 1 : 0;
    if (!ignore) cache->Stat(p, *e);  // needed next anyway; shared with the stat
    if (facts != nullptr) facts->Put(p, *e);
  }
  return e;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
