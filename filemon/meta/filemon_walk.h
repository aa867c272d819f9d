// File: filemon/meta/filemon_walk.h (internal to //filemon/meta)
//
// The filemon section of one .meta as bmake's meta_oodate() walks it (bmake_meta.md §2.2): the
// per-process directories (`PidDirs`), reads checked against the target's mtime, writes in the
// bailiwick, the list of missing files that D and M clear, and (beyond bmake, with
// CheckOptions::probes) the absent-path probes. Reasons and messages go to a `Verdict`.
//
// Example:
//   FilemonWalk walk(state, target_time, /*facts=*/nullptr, &verdict);
//   walk.Lines(&reader, data.size());
//   walk.Finish();

#ifndef FILEMON_META_FILEMON_WALK_H_
#define FILEMON_META_FILEMON_WALK_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/check_state.h"
#include "filemon/meta/filemon_fields.h"
#include "filemon/meta/line_reader.h"
#include "filemon/meta/path_cache.h"
#include "filemon/meta/path_facts.h"
#include "filemon/meta/path_rules.h"
#include "filemon/meta/pid_dirs.h"
#include "filemon/meta/probe_set.h"
#include "filemon/meta/verdict.h"

namespace filemon {
namespace meta {
namespace internal {

// Not thread-safe: one walk per check (the cooperative reading's helpers share only `facts`).
class FilemonWalk {
 public:
  // `facts`: shared path facts (null: none yet; see UseFacts). All outlive the walk; the views
  // of the lines given to it must outlive it too (relative paths are remembered by view).
  FilemonWalk(const CheckState& s, TargetTime target_time, PathFacts* facts, Verdict* verdict)
      : s_(s),
        target_time_(target_time),
        verdict_(verdict),
        cache_(s.cwd_fd.get(), s.cwd),
        dirs_(s.cwd),
        facts_(facts) {}

  // The lines from `reader`'s position to `end` (a line boundary), until a reason is found.
  void Lines(LineReader* reader, size_t end);
  // One filemon line (counted by the caller).
  void Line(const MetaLine& line);
  // The pid switch alone, of a line whose record changes nothing else.
  void Switch(int pid) { dirs_.Switch(pid); }
  // After the section: the missing files, then (when not out of date) the probes.
  void Finish();

  // `facts`, unless the walk already shares some (CheckFiles()' own).
  PathFacts* UseFacts(PathFacts* facts) {
    if (facts_ == nullptr) facts_ = facts;
    return facts_;
  }
  const CheckState& state() const { return s_; }
  const TargetTime& target_time() const { return target_time_; }

 private:
  void Record(const Fields& f);
  void MoveOrLink(const Fields& f);
  // An R or E record of `p` (the pid switch done).
  void ReadRecord(char key, absl::string_view p);
  // R/E/L-source; returns false where bmake `continue`s (skipping the E latestdir reset).
  bool CheckRead(absl::string_view p);
  // How a written path is looked at: a link's new name itself (lstat), else through symlinks.
  enum class Follow { kSymlinks, kNoSymlinks };
  void CheckWrite(absl::string_view p, Follow follow);
  // `*entry` (if not null) receives the cache entry of an absolute `p`.
  bool Ignore(absl::string_view p, PathCache::Entry** entry = nullptr);
  // CheckOptions::probes: `p` of an N, W or M/L destination, absolute in the pid's cwd.
  std::string ProbePath(absl::string_view p) const;
  void Wrote(absl::string_view p);
  void CheckProbes();

  const CheckState& s_;
  TargetTime target_time_;
  Verdict* verdict_;
  PathCache cache_;
  PidDirs dirs_;
  PathFacts* facts_;  // null: one thread, whose cache knows it all
  MissingList missing_;
  ReadCandidates candidates_;
  std::string real_;
  absl::flat_hash_map<absl::string_view, bool> relative_ignore_;
  ProbeSet probes_;  // CheckOptions::probes
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_FILEMON_WALK_H_
