// File: filemon/meta/probe_set.h
//
// The absent-path probes (`N` records, filemon/core/log_format.md section 7) of one .meta, and
// the writes that explain them: a path the build itself wrote, renamed to or linked at after it
// probed it exists now because of the build, not since it. Paths are absolute and lexically
// normal (the caller resolves a relative one in its process's cwd).
//
// Example:
//   ProbeSet probes;
//   probes.Probe("/p/inc1/same.h", 12);
//   probes.Wrote("/p/gen.h");
//   for (const ProbeSet::Probed& p : probes.Unexplained()) { ... p.path, p.line ... }

#ifndef FILEMON_META_PROBE_SET_H_
#define FILEMON_META_PROBE_SET_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {
namespace internal {

class ProbeSet {
 public:
  struct Probed {
    std::string path;
    size_t line = 0;  // the .meta line of its first N since the last write of it
  };

  // An `N` of `path` at .meta line `line`. A path probed again keeps its first line, unless a
  // write explained it in between (then the new probe counts from `line`).
  void Probe(absl::string_view path, size_t line);
  // `path` was written (W), renamed to (M) or linked at (L): its probes so far are explained.
  void Wrote(absl::string_view path);
  bool empty() const { return probes_.empty(); }
  // The probes no later write explains, in .meta order.
  std::vector<Probed> Unexplained() const;

 private:
  struct Entry {
    Probed probed;
    bool explained = false;
  };
  std::vector<Entry> probes_;
  absl::flat_hash_map<std::string, size_t> index_;  // path -> its entry in probes_
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_PROBE_SET_H_
