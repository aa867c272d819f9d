// File: filemon/meta/path_rules.h (internal to //filemon/meta)
//
// bmake's rules about the paths of filemon records (bmake_meta.md §2.2, §2.4), each a function
// of the path and the prepared options (`CheckState`), asking the file system only through a
// `PathCache`:
//   - which paths are ignored (meta_ignore());
//   - where a relative R/E/L-source path is looked for (latestdir, lcwd, cwd);
//   - which written paths may join the missing list (the bailiwick);
//   - what clears the missing list (D, and the source of M).

#ifndef FILEMON_META_PATH_RULES_H_
#define FILEMON_META_PATH_RULES_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/check_options.h"
#include "filemon/meta/check_state.h"
#include "filemon/meta/path_cache.h"

namespace filemon {
namespace meta {
namespace internal {

// Whether `path` starts with any of `prefixes`, as plain strings (no '/' boundary).
bool HasAnyPrefix(absl::string_view path, const std::vector<std::string>& prefixes);

// `path` equals `prefix` or starts with `prefix` + '/' (bmake's path_starts_with/path_match).
bool PathStartsWith(absl::string_view path, absl::string_view prefix);

// bmake's meta_ignore(): IGNORE_PATHS (absolute paths; [N] raw then realpath, [D] realpath or
// glibc's partial result), IGNORE_PATTERNS, IGNORE_FILTER. A pure function of `p`; `*real` is
// scratch.
bool IgnorePath(const CheckState& s, absl::string_view p, PathCache* cache, std::string* real);

// Where bmake looks for the path `p` of an R/E/L-source: an absolute `p` itself; a relative
// one as `latestdir/p`, then `lcwd/p` and `cwd/p` where they differ from the one before, each
// cut to MAXPATHLEN - 1 bytes ([D]) or dropped when too long ([N]).
class ReadCandidates {
 public:
  // The candidates of `p`, valid until the next call.
  void Build(absl::string_view p, const std::string& latestdir, const std::string& lcwd,
             const std::string& cwd, Compat compat);
  int size() const { return n_; }
  absl::string_view operator[](int i) const { return views_[i]; }

 private:
  void Add(const std::string& dir, absl::string_view p, Compat compat);
  std::string buffer_;  // one buffer, reserved up front, so that the views stay valid
  absl::string_view views_[3];
  int n_ = 0;
};

// Whether a path written (W, the target of M or L) may join the missing list when it does not
// exist: absolute, a bailiwick set, not under `cwd` (raw prefix), under a bailiwick entry, not
// under $TMPDIR (bmake also tests strstr("tmp", p), its arguments swapped: never true here).
bool WriteMayBeMissing(const CheckState& s, absl::string_view p);

// Whether a read whose candidates all failed with `error` makes `p` missing: ENOENT, absolute
// and not under `cwd` (raw prefix).
bool ReadIsMissing(const CheckState& s, absl::string_view p, int error);

// bmake's list of missing files: in the order first seen, each once (a hash set finds a path
// already listed: a long list costs no scan per record).
class MissingList {
 public:
  void Add(absl::string_view path);
  // D of `dir`, or M from `dir`: forget the files equal to it or under it. Only an absolute
  // `dir` clears anything.
  void ClearUnder(absl::string_view dir);
  bool empty() const { return paths_.empty(); }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::vector<std::string> paths_;
  absl::flat_hash_set<std::string> listed_;
};

// Whether an absolute R/E/L-source path can change anything: not when it exists, is no
// directory and is not newer than the target, nor when it is ignored (except for E, whose
// latestdir reset an ignored path skips). REQUIRES: `e.tag` known (1: ignored), and `e.stat`
// unless ignored.
bool Interesting(char key, absl::string_view p, const PathCache::Entry& e, const CheckState& s,
                 const TargetTime& target);

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_PATH_RULES_H_
