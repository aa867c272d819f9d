// File: benchmarks/meta_gen.h
//
// Generates a realistic bmake .meta for the meta benchmarks: a build of `processes` processes
// (a make shell forking compilers), `records` filemon records in all, reading about `files`
// distinct existing source files (absolute and relative names, with chdirs), plus ignored
// system paths, writes, deletes and exits. The files are created under `root`/src with an
// mtime older than the target `root`/obj/target, so that the .meta is up to date; with
// `newer_last`, the file read last (and only there) is made newer, so a checker must read
// to the end.
//
// Example:
//   absl::StatusOr<GeneratedMeta> g = GenerateMeta("/var/bench", 200000, 4000, 5000, false);
//   // g->meta_path: "/var/bench/obj/target.meta"; check with --cwd g->objdir.

#ifndef BENCHMARKS_META_GEN_H_
#define BENCHMARKS_META_GEN_H_

#include <string>

#include "absl/status/statusor.h"

namespace filemon_bench {

struct GeneratedMeta {
  std::string meta_path;   // <root>/obj/target.meta
  std::string objdir;      // <root>/obj (the CWD record)
  std::string target;      // "target"
  std::string command;     // the CMD record
  std::string newer_file;  // the file read last
  size_t records = 0;
  size_t bytes = 0;
};

// `root` must not be under /tmp (bmake ignores it). Reuses existing source files.
absl::StatusOr<GeneratedMeta> GenerateMeta(const std::string& root, size_t records,
                                           size_t processes, size_t files, bool newer_last);

}  // namespace filemon_bench

#endif  // BENCHMARKS_META_GEN_H_
