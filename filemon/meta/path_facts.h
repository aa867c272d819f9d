// File: filemon/meta/path_facts.h (internal to //filemon/meta)
//
// What is known of absolute record paths (ignored? stat?), shared by the threads of one check
// (the cooperative reading of a large filemon section) or by all the checks of
// `Checker::CheckFiles()`, as bmake's own stat cache is shared by every target of a run: each
// distinct path is resolved and stat'ed once overall. Thread-safe.

#ifndef FILEMON_META_PATH_FACTS_H_
#define FILEMON_META_PATH_FACTS_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/check_state.h"
#include "filemon/meta/path_cache.h"

namespace filemon {
namespace meta {
namespace internal {

class PathFacts {
 public:
  // What is known of `p`, into `*e`; false if nothing.
  bool Get(absl::string_view p, PathCache::Entry* e);
  // Records `e` for `p`, unless what is recorded already knows as much.
  void Put(absl::string_view p, const PathCache::Entry& e);

 private:
  static constexpr size_t kShards = 16;
  // PathHash (what the shard was picked with, mixed again) for lookups by string_view.
  struct Hash {
    using is_transparent = void;
    size_t operator()(absl::string_view p) const { return PathHash()(p) >> 4; }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(absl::string_view a, absl::string_view b) const { return a == b; }
  };
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, PathCache::Entry, Hash, Eq> map;
  };
  Shard shards_[kShards];
};

// The entry of the absolute path `p` (PathHash() `hash`) in `cache`, with its ignore decision
// (`tag`: 1 ignored, 0 not) and, unless ignored, its stat: decided once, by whichever thread of
// a check meets the path first, and shared through `facts` (null: one thread). `*real` is
// scratch. The pointer is valid as long as `cache`.
PathCache::Entry* KnownEntry(const CheckState& s, absl::string_view p, uint64_t hash,
                             PathCache* cache, PathFacts* facts, std::string* real);

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_PATH_FACTS_H_
