// File: filemon/meta/checker.h
//
// bmake's meta-mode out-of-date decision (`meta_oodate()`), as a library: given a target's
// `.meta` file and what bmake would know (its .OBJDIR, .CURDIR, the target, the current
// commands and the `.MAKE.META.*` settings), says whether the target is up to date or why not,
// with bmake's exact messages. Every rule and quirk, with its source, is in
// filemon/meta/bmake_meta.md; two bmake versions are emulated (`Compat`).
//
// What is outside `meta_oodate()` is outside this library: the makefile's own out-of-date rules
// (sources newer than the target, .PHONY, ...) and `meta_needed()` (.NOMETA, sub-makes). The
// one exception is a missing target (`kTargetMissing`), which bmake decides before reading the
// `.meta`.
//
// Thread-safety: a `Checker` is immutable once created; `Check*` may run concurrently. Each
// call keeps its own stat/realpath cache, so each distinct path is stat'ed once per call.
//
// Example:
//   filemon::meta::CheckOptions options;
//   options.cwd = "/obj/lib";
//   options.commands = {{"cc -c foo.c", true}};
//   absl::StatusOr<filemon::meta::Checker> checker = filemon::meta::Checker::Create(options);
//   absl::StatusOr<filemon::meta::Decision> d = checker->CheckFile("/obj/lib/foo.o.meta");
//   if (d.ok() && d->out_of_date) std::cout << d->messages[0] << "\n";
//   // "/obj/lib/foo.o.meta:12: file '/src/lib/foo.h' is newer than the target..."

#ifndef FILEMON_META_CHECKER_H_
#define FILEMON_META_CHECKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/check_options.h"

namespace filemon {
namespace meta {

class Checker {
 public:
  // Validates and prepares `options` (realpaths, filters). Errors: a filter with an
  // unsupported modifier; `cmp_filter` with k20200710; `cwd` that cannot be opened.
  static absl::StatusOr<Checker> Create(CheckOptions options);

  Checker(Checker&&) noexcept;
  Checker& operator=(Checker&&) noexcept;
  ~Checker();

  // Checks the target whose .meta is `meta_path`: the target's existence and mtime first,
  // then the .meta (a missing .meta is up to date unless `missing_meta`). Errors are I/O
  // errors other than a missing .meta, naming the file. One thread.
  absl::StatusOr<Decision> CheckFile(const std::string& meta_path) const;
  // The same with up to `threads` threads: a filemon section of 256 KiB or more is cut into
  // chunks; this thread reads them in order while the others classify chunks from the end
  // (each distinct path resolved and stat'ed once overall), so that of a classified chunk only
  // the lines that can change the decision are read here. The decision is the one-thread
  // decision; helpers that get no CPU cost only their start.
  absl::StatusOr<Decision> CheckFileWith(const std::string& meta_path, int threads) const;

  // The same for one target of a build: `target` replaces `options().target` and
  // `options().commands` for this call, so that one Checker serves every target. `threads` as
  // in CheckFileWith.
  absl::StatusOr<Decision> Check(const std::string& meta_path, const TargetSpec& target,
                                 int threads = 1) const;

  // Checks `data` (a .meta's bytes, named `meta_path` in messages) against a target whose
  // mtime is `target_mtime` (whole seconds).
  Decision CheckData(absl::string_view data, absl::string_view meta_path,
                     int64_t target_mtime) const;
  Decision CheckDataWith(absl::string_view data, absl::string_view meta_path, int64_t target_mtime,
                         int threads) const;

  // Checks many .meta files with `threads` threads (0: one per core), results in input order.
  // Each file gets its own TARGET (unless `options().target` is set); what is known of a path
  // (ignored, stat) is shared by all the checks, so each distinct path is stat'ed once.
  std::vector<absl::StatusOr<Decision>> CheckFiles(const std::vector<std::string>& meta_paths,
                                                   int threads) const;

  const CheckOptions& options() const;

 private:
  class Impl;  // the prepared options, and the checks' plumbing (checker.cc)
  explicit Checker(std::unique_ptr<const Impl> impl);
  std::unique_ptr<const Impl> impl_;
};

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_CHECKER_H_
