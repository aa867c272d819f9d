// File: filemon/meta/dirdeps.h (internal to //filemon/meta)
//
// The DIRDEPS model of meta2deps.py (bmake's mk/meta2deps.py; filemon/meta/deps.md): which
// source directory (`SRC_DIRDEPS`) or object directory (`DIRDEPS`) a file read by a build
// belongs to, in a tree laid out `SRCTOP/RELDIR` and `OBJROOT/MACHINE/RELDIR`.
//
// Rules, each meta2deps's unless said otherwise:
//   - every root is tried as given and as its realpath, and each file's directory as it was
//     named and as its realpath (an object directory may be a link into the source tree);
//   - an object root loses a trailing MACHINE, HOST_TARGET (for MACHINE `host`) or
//     TARGET_SPEC component, in meta2deps's order (`/M/`, `/M`, `M/`, `M`);
//   - the longest matching root wins, source and object roots alike (meta2deps prefers any
//     source root over a longer object root nested in it);
//   - a source directory is named relative to its root ("." for the root itself);
//   - an object directory is named by the first line of `FILE.dirdep` or `DIR/.dirdep` if one
//     exists (a trailing `.MACHINE` or `.TARGET_SPEC` removed), else `OBJROOT/M/RELDIR` gives
//     `RELDIR` when M is MACHINE (or HOST_TARGET for `host`) and `RELDIR.M` otherwise; with
//     MACHINE `none` or empty, the directory relative to the object root.

#ifndef FILEMON_META_DIRDEPS_H_
#define FILEMON_META_DIRDEPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/path_cache.h"

namespace filemon {
namespace meta {
namespace internal {

// Lexical normalisation of an absolute path: no empty, "." or ".." components.
std::string NormalizePath(absl::string_view path);

// A list kept in first-seen order without duplicates.
class OrderedSet {
 public:
  void Add(absl::string_view s) {
    if (seen_.emplace(s).second) items_.emplace_back(s);
  }
  const std::vector<std::string>& items() const { return items_; }
  std::vector<std::string> Take() { return std::move(items_); }

 private:
  std::vector<std::string> items_;
  absl::flat_hash_set<std::string> seen_;
};

struct DirDepsConfig {
  // Absolute (relative roots are the caller's to resolve).
  std::vector<std::string> srctops;
  std::vector<std::string> objroots;
  std::string machine;      // "" or "none": object dirs relative to the object root
  std::string host_target;  // the object tree's machine component for MACHINE "host"
  std::string target_spec;
  bool files = false;  // fill DirDepsResult::files (meta2deps -D)
};

struct DirDepsResult {
  OrderedSet src;                // source directories, relative to their root
  OrderedSet obj;                // object directories as meta2deps names them
  OrderedSet files;              // meta2deps -D: files under a source root (and stage files)
  const uint64_t id = NextId();  // unique in the process (an address may be reused)

 private:
  static uint64_t NextId();
};

class DirDeps {
 public:
  // `cache` (not owned) answers the file-system questions.
  DirDeps(const DirDepsConfig& config, PathCache* cache);

  // Groups the existing file `dir`/`base`; `dir` is absolute and lexically clean.
  void Add(absl::string_view dir, absl::string_view base, DirDepsResult* out);

  // The roots tried, longest first, each ending in '/' (for tests and debugging).
  std::vector<std::string> RootsForTest() const;

 private:
  struct Root {
    std::string prefix;  // ends with '/'
    bool src;
  };
  struct DirInfo {
    const Root* root = nullptr;       // the longest root of the directory as named
    const Root* real_root = nullptr;  // ... of its realpath, if that differs
    std::string real;                 // the realpath, if it differs, else empty
    std::string src;                  // the source directory name, if any
    // The id of the result this directory was last added to: a source directory adds the
    // same name for each of its files.
    uint64_t added_to = 0;
  };
  void AddRoot(const std::string& root, bool src);
  const Root* Match(absl::string_view dir) const;
  DirInfo& Info(absl::string_view dir);
  // The object directory name of `dir` (under `root`) or "" if none.
  std::string ObjName(const Root& root, absl::string_view dir, absl::string_view file);
  std::string ReadDirdep(const std::string& file);

  DirDepsConfig config_;
  PathCache* cache_;
  std::vector<Root> roots_;  // longest first
  absl::flat_hash_map<std::string, DirInfo> dirs_;
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_DIRDEPS_H_
