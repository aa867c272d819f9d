// File: filemon/meta/deps.h
//
// What a target's commands touched, from its `.meta`: the files read, executed, written,
// deleted, renamed and linked, each made absolute with bmake's per-process cwd rules (a
// relative name is looked up in the process's latest directory read, then its cwd, then the
// CWD record, as meta_oodate() does; see pid_dirs.h) and deduplicated in first-seen order.
// Optionally grouped, as FreeBSD's meta2deps does, into the directories read under source
// roots (`src_dirs`) and object roots (`obj_dirs`), relative to the root.
//
// Example:
//   filemon::meta::DepsOptions options;
//   options.srctops = {"/src"};
//   options.objroots = {"/obj"};
//   absl::StatusOr<filemon::meta::Deps> deps = filemon::meta::ReadDeps("/obj/lib/foo.o.meta",
//                                                                       options);
//   for (const std::string& d : deps->src_dirs) std::cout << "src:" << d << "\n";  // "lib"

#ifndef FILEMON_META_DEPS_H_
#define FILEMON_META_DEPS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {

struct DepsOptions {
  // Relative names resolve against the .meta's CWD record; this overrides it (and is used when
  // the .meta has none). Empty: the CWD record, else the .meta's directory.
  std::string cwd;
  std::vector<std::string> srctops;   // meta2deps -S
  std::vector<std::string> objroots;  // meta2deps -O
};

struct Deps {
  std::vector<std::string> read;                             // R, and the source of L
  std::vector<std::string> exec;                             // E
  std::vector<std::string> write;                            // W, and the targets of L and M
  std::vector<std::string> deleted;                          // D
  std::vector<std::pair<std::string, std::string>> renamed;  // M: from, to
  // meta2deps grouping of the directories of `read` and `exec` files (directories themselves
  // excluded; the CWD directory excluded), relative to the first matching root ("." for the
  // root itself), deduplicated and sorted.
  std::vector<std::string> src_dirs;
  std::vector<std::string> obj_dirs;
  // Lines of the filemon section the core parser could not read (they are skipped).
  size_t malformed_lines = 0;
};

// From a .meta's bytes; `filename` names it in errors.
absl::StatusOr<Deps> ExtractDeps(absl::string_view data, absl::string_view filename,
                                 const DepsOptions& options);

// Reads `path` and extracts. Errors: the file cannot be read; it has no filemon section.
absl::StatusOr<Deps> ReadDeps(const std::string& path, const DepsOptions& options);

// {"read":[...],"exec":[...],"write":[...],"deleted":[...],"renamed":[[from,to],...],
//  "src_dirs":[...],"obj_dirs":[...],"malformed_lines":N}
std::string DepsJson(const Deps& deps);

// Merges `from` into `into`, keeping first-seen order and uniqueness (for several .meta files).
void MergeDeps(const Deps& from, Deps* into);

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_DEPS_H_
