// File: filemon/meta/check_options.h
//
// The vocabulary of `checker.h`: what a check is asked (`CheckOptions`, `TargetSpec`, the bmake
// version to agree with) and what it answers (`Decision`, its `Reason`), with their names as the
// tool prints them. Include `checker.h`, which includes this.

#ifndef FILEMON_META_CHECK_OPTIONS_H_
#define FILEMON_META_CHECK_OPTIONS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace filemon {
namespace meta {

// Which bmake to agree with, message text included.
enum class Compat {
  k20200710,  // Debian's bmake: "F: N: ..." messages, realpath-only ignore test, no CMP_FILTER
  k20260313,  // current FreeBSD bmake: "F:N: ...", CMP_FILTER, raw-then-realpath ignore test
};
// "20200710" / "20260313".
absl::string_view CompatName(Compat compat);
[[nodiscard]] bool ParseCompat(absl::string_view text, Compat* compat);

enum class Reason {
  kUpToDate,
  kNewer,           // an R/E/L-source file is newer than the target
  kCmdChanged,      // a recorded command differs from the current one
  kCmdMoreInMeta,   // more CMD records than current commands
  kCmdExtraNow,     // more current commands than CMD records (noticed at CWD)
  kCwdChanged,      // the CWD record is not .OBJDIR
  kMissingFiles,    // a file read outside .OBJDIR (or written in the bailiwick) is gone
  kMissingFilemon,  // no filemon section and missing-filemon=yes
  kMissingMeta,     // no .meta and missing-meta=yes (or .META)
  kMalformed,       // a filemon line without pid or path, a blank line, a bare CWD, ...
  kTruncated,       // a line without its '\n'
  kTargetMissing,   // the target does not exist (decided before the .meta is read)
  kAppeared,        // beyond bmake (CheckOptions::probes): a path probed absent exists now
};
// The tool's code: "up-to-date", "newer", "cmd_changed", ... (see filemon-meta --help).
absl::string_view ReasonCode(Reason reason);

// How mtimes are compared.
enum class MtimeResolution {
  kWholeSeconds,  // bmake: a file is newer only in a later second than the target
  kFull,          // the file system's full precision (nanoseconds on Linux): a file written in
                  // the same second after the target is newer. Applies where the target is
                  // stat'ed (Check, CheckFile*, CheckFiles), not to CheckData*'s whole seconds.
};

// One current command of the target, expanded as bmake would expand it.
struct CurrentCommand {
  std::string text;
  // False for a command that uses `$?` or `${.OODATE}` (bmake cannot compare it; it still
  // counts, and bmake prints "cannot compare command using .OODATE").
  bool compare = true;
};

// When several threads read one .meta (`Checker::CheckFileWith`): the decision is the same
// whatever these are; tests lower them to exercise the cooperation on small files.
struct ParallelTuning {
  // A filemon section at least this large is read by several threads ...
  size_t min_bytes = 256 << 10;
  // ... cut into chunks of whole lines of about this size.
  size_t chunk_bytes = 64 << 10;
};

struct CheckOptions {
  // bmake's .OBJDIR (its working directory). Relative record paths and relative targets are
  // resolved against it; the CWD record is compared with its realpath. Default: the process's
  // current directory.
  std::string cwd;
  // bmake's .CURDIR, printed in the "current working directory has changed" message and used
  // for the missing-meta exemption. Default: `cwd`.
  std::string curdir;
  // The target as the makefile names it, relative to `cwd` or absolute. Empty: the .meta's
  // TARGET record (or the .meta's file name without ".meta").
  std::string target;
  // The current commands, in order. Unset: commands are not compared (CMD records are only
  // skipped; no count check).
  absl::optional<std::vector<CurrentCommand>> commands;
  bool no_cmd_compare = false;  // .NOMETA_CMP
  bool ignore_cmd = false;      // .MAKE.MODE=ignore-cmd
  // .MAKE.META.IGNORE_PATHS beyond the defaults. Each is realpath'ed, as `:tA` does.
  std::vector<std::string> ignore_paths;
  // Beyond bmake: the default ignore paths. Unset: bmake's (/dev /etc /proc /tmp /var/run
  // /var/tmp and `tmpdir_env`); set: exactly these instead (empty: none, for a project that
  // lives under /tmp).
  absl::optional<std::vector<std::string>> default_ignore_paths;
  // Beyond bmake: use the absent-path probes (`N` records, filemon --probes). A path probed
  // and not found then, which exists now, makes the target out of date (`kAppeared`): a header
  // that now shadows the one the compiler read, a program earlier in PATH. Relative paths are
  // resolved in the probing process's cwd; ignore paths, patterns and the filter apply as to R;
  // a probe is explained (no reason) when the same .meta later wrote, renamed or linked that
  // path. Checked once bmake's own rules found the target up to date. Off: `N` lines are
  // skipped, as bmake skips every letter it does not know.
  bool probes = false;
  // Beyond bmake: how a file's mtime is compared with the target's (see MtimeResolution).
  MtimeResolution mtime_resolution = MtimeResolution::kWholeSeconds;
  std::vector<std::string> ignore_patterns;  // .MAKE.META.IGNORE_PATTERNS (:M globs)
  std::string ignore_filter;                 // .MAKE.META.IGNORE_FILTER (modifier list)
  std::string cmp_filter;                    // .MAKE.META.CMP_FILTER (k20260313 only)
  std::vector<std::string> bailiwick;        // .MAKE.META.BAILIWICK
  bool missing_meta = false;                 // missing-meta=yes (or the target is .META)
  bool missing_filemon = false;              // missing-filemon=yes
  Compat compat = Compat::k20260313;
  // $TMPDIR as bmake sees it (empty: unset). Used for IGNORE_PATHS and the bailiwick test.
  std::string tmpdir_env;
  ParallelTuning parallel;
};

// What differs from target to target of one build, given per call (`Checker::Check`); the
// `CheckOptions` are what the whole build shares.
struct TargetSpec {
  // As `CheckOptions::target`: empty: the .meta's TARGET record.
  std::string target;
  // As `CheckOptions::commands`: this target's current commands; unset: not compared.
  absl::optional<std::vector<CurrentCommand>> commands;
};

struct Decision {
  bool out_of_date = false;
  // The .meta does not exist (bmake then decides by `missing_meta` alone: up to date unless
  // it is set). A tool should say so: a misspelt name is otherwise silently up to date.
  bool meta_missing = false;
  Reason reason = Reason::kUpToDate;  // the first reason found (bmake stops there)
  size_t line = 0;                    // .meta line of the reason, 0 if none
  std::string meta_path;              // the .meta as named in messages (absolute)
  std::string path;                   // kNewer: the file; kMissingFiles: the first missing file
  std::string old_command;            // kCmdChanged: recorded
  std::string new_command;            // kCmdChanged: current
  // bmake's -dM debug lines and warnings, in bmake's order, without "bmake: " (a command
  // change is one message of several lines). Informational ones (cannot compare, a change
  // under ignore-cmd, a truncated command continuation) appear too.
  std::vector<std::string> messages;
};

// The decision as one JSON object: {"meta": ..., "out_of_date": bool, "reason": "newer",
// "line": N, "path": ..., "old_command": ..., "new_command": ..., "messages": [...]}.
std::string DecisionJson(const Decision& decision);

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_CHECK_OPTIONS_H_
