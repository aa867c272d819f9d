#include "filemon/meta/probe_set.h"

#include <algorithm>

namespace filemon {
namespace meta {
namespace internal {

void ProbeSet::Probe(absl::string_view path, size_t line) {
  auto [it, inserted] = index_.try_emplace(std::string(path), probes_.size());
  if (inserted) {
    probes_.push_back({{std::string(path), line}, false});
    return;
  }
  Entry& e = probes_[it->second];
  if (e.explained) {
    e.explained = false;
    e.probed.line = line;
  }
}

void ProbeSet::Wrote(absl::string_view path) {
  if (probes_.empty()) return;
  auto it = index_.find(path);
  if (it != index_.end()) probes_[it->second].explained = true;
}

std::vector<ProbeSet::Probed> ProbeSet::Unexplained() const {
  std::vector<const Entry*> open;
  for (const Entry& e : probes_) {
    if (!e.explained) open.push_back(&e);
  }
  // A probe reopened after a write has a later line than probes recorded after its first one.
  std::stable_sort(open.begin(), open.end(),
                   [](const Entry* a, const Entry* b) { return a->probed.line < b->probed.line; });
  std::vector<Probed> out;
  out.reserve(open.size());
  for (const Entry* e : open) out.push_back(e->probed);
  return out;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
