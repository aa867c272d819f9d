// File: filemon/meta/deps.h
//
// What a target's commands touched, from its `.meta`: the files read, executed, written,
// deleted, renamed and linked (and probed absent, `N`), each made absolute and deduplicated in
// first-seen order, and grouped, as bmake's meta2deps.py does for DIRDEPS builds, into the source
// and object directories they were read from (filemon/meta/deps.md: the rules, and where they
// differ from meta2deps.py on purpose).
//
// Relative names are resolved per process, as the processes saw them: a process starts in the
// directory of its parent's `F` record, or in the `.meta`'s CWD if it has none (bmake's compat
// mode runs each command as a new shell there); `C` moves it (a relative `C` against its own
// directory); a relative name is looked up in the last directory the process read, then in its
// directory, and a name that exists in neither (deleted since) is taken in its directory. The
// first name of an `L` record, when the second is a symbolic link, is relative to the link's
// directory.
//
// Example:
//   filemon::meta::DepsOptions options;
//   options.srctops = {"/src"};
//   options.objroots = {"/obj"};
//   options.machine = "amd64";
//   absl::StatusOr<filemon::meta::Deps> deps = filemon::meta::ReadDeps(
//       "/obj/amd64/bin/ls/ls.o.meta", options);
//   for (const std::string& d : deps->src_dirs) std::cout << "src:" << d << "\n";  // "lib/libc"

#ifndef FILEMON_META_DEPS_H_
#define FILEMON_META_DEPS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {

// What ExtractDeps fills in.
enum class DepsLists {
  kAll,             // every list
  kDirectoriesOnly  // src_dirs, obj_dirs and the warnings (meta2deps's answer)
};

struct DepsOptions {
  // Relative names resolve against the .meta's CWD record; this overrides it (and is used when
  // the .meta has none). Empty: the CWD record, else the .meta's directory.
  std::string cwd;
  // Roots (meta2deps -S, -O); relative ones are taken from the current directory. Each is
  // also tried as its realpath; an object root loses a trailing MACHINE component.
  std::vector<std::string> srctops;
  std::vector<std::string> objroots;
  // meta2deps -m: an object directory OBJROOT/M/RELDIR is named RELDIR when M is `machine`,
  // else RELDIR.M. Empty or "none": the directory relative to its object root.
  std::string machine;
  std::string host_target;  // -H: the object tree's machine component for machine "host"
  std::string target_spec;  // -T: also trimmed from object roots and .dirdep names
  // -C: the directory's source directory (.CURDIR); files read there are not dependencies.
  std::string curdir;
  // -X: files whose name as logged or as resolved starts with one of these are not grouped.
  std::vector<std::string> excludes;
  DepsLists lists = DepsLists::kAll;
  bool dp_files = false;  // fill Deps::dp_files with kDirectoriesOnly too (meta2deps -D)
};

struct Deps {
  std::vector<std::string> read;                             // R, and the source of L
  std::vector<std::string> exec;                             // E
  std::vector<std::string> write;                            // W, and the targets of L and M
  std::vector<std::string> deleted;                          // D
  std::vector<std::pair<std::string, std::string>> renamed;  // M: from, to
  // N (filemon --probes): paths looked for and not found, in the process's directory.
  std::vector<std::string> probed;
  // The meta2deps grouping of the existing files read or executed (and of the existing
  // sources of L and M), in first-seen order: directories themselves, `*.dirdep` files and
  // files in the CWD or --curdir directory are not grouped. `src_dirs`: relative to the
  // longest matching source root ("." for the root itself); `obj_dirs`: named as in
  // DepsOptions::machine (or by a .dirdep file).
  std::vector<std::string> src_dirs;
  std::vector<std::string> obj_dirs;
  // meta2deps -D: the grouped files under a source root, relative to it (and staged files).
  std::vector<std::string> dp_files;
  // Lines of the filemon section the core parser could not read (they are skipped).
  size_t malformed_lines = 0;
  // The filemon section has no "# Bye bye" footer, or its last line no newline: the build was
  // interrupted and the lists may be incomplete.
  bool truncated = false;
  // "PID PATH" of each process that executed PATH and has no X record after it.
  std::vector<std::string> missing_exits;
};

// From a .meta's bytes; `filename` names it in errors.
absl::StatusOr<Deps> ExtractDeps(absl::string_view data, absl::string_view filename,
                                 const DepsOptions& options);

// Reads `path` and extracts. Errors: the file cannot be read; it has no filemon section.
absl::StatusOr<Deps> ReadDeps(const std::string& path, const DepsOptions& options);

// ReadDeps() of each file, on `jobs` threads (0: one per core); results in the files' order.
std::vector<absl::StatusOr<Deps>> ReadDepsFiles(const std::vector<std::string>& paths,
                                                const DepsOptions& options, int jobs);

// {"read":[...],"exec":[...],"write":[...],"deleted":[...],"renamed":[[from,to],...],
//  "probed":[...],"src_dirs":[...],"obj_dirs":[...],"malformed_lines":N,"truncated":B,"missing_exits":[...]}
// (src_dirs and obj_dirs sorted)
std::string DepsJson(const Deps& deps);

// Merges `from` into `into`, keeping first-seen order and uniqueness (for several .meta files).
void MergeDeps(const Deps& from, Deps* into);
// The same for many at once, in their order (linear in the total size).
Deps MergeAllDeps(const std::vector<const Deps*>& parts);

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_DEPS_H_
