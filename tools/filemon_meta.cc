// filemon-meta: read bmake .meta files; decide whether a target is out of date, as bmake's meta
// mode does (check), list what the commands touched (deps), or run a command under a tracing
// backend and write its .meta (run). Flags in, library calls, exit status out.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/checker.h"
#include "tools/filemon_meta_commands.h"

namespace {

using filemon_meta_tool::FlagValue;
using filemon_meta_tool::UsageError;

constexpr int kExitUpToDate = 0;
constexpr int kExitOutOfDate = 1;
constexpr int kExitError = 2;

constexpr char kUsage[] = R"(usage:
  filemon-meta check [options] FILE.meta...
  filemon-meta deps [--format text|json|meta2deps] [--srctop DIR]... [--objroot DIR]...
                    [--machine M] [options] FILE.meta... | @LIST
  filemon-meta run --meta FILE.meta --target NAME [--backend B] [--cwd DIR] [--probes]
                   (--cmd TEXT... | -- COMMAND...)

bmake's meta mode keeps, next to each target, a .meta file: the commands that made it, their
output, and a filemon(4) log of every file they read (R), executed (E), wrote (W), renamed (M),
linked (L) and deleted (D). `check` decides from it, exactly as bmake's meta_oodate() does,
whether the target must be rebuilt, and prints bmake's own message:

  $ filemon-meta check --cwd /obj/lib /obj/lib/foo.o.meta
  out-of-date: newer
  /obj/lib/foo.o.meta:14: file '/src/lib/foo.h' is newer than the target...

check: first line `up-to-date` or `out-of-date: CODE`; then bmake's -dM message(s).
  CODE  newer             an R/E/L-source file is newer than the target (whole seconds)
        cmd_changed       a CMD record differs from the current command (--cmd)
        cmd_more_in_meta  more CMD records than current commands
        cmd_extra_now     more current commands than CMD records (seen at the CWD record)
        cwd_changed       the CWD record is not --cwd
        missing_files     a file read outside --cwd (or written in the bailiwick) is gone
        missing_filemon   no filemon section and --missing-filemon
        missing_meta      no .meta and --missing-meta
        malformed         a blank line, a record without pid or path, a bare CWD, ...
        truncated         a line without its newline (an interrupted write)
        target_missing    the target does not exist (bmake rebuilds before reading the .meta)
        appeared          (--probes) a path probed and not found then exists now
  Exit status: 0 up to date, 1 out of date, 2 usage or I/O error.
  A FILE.meta that is not a regular file (a pipe, a FIFO) is read up to 64 MiB, with lines
  up to 1 MiB; more is an I/O error.
  With several files, they are checked in parallel (every core) and each gives one line
  `FILE: up-to-date` or `FILE: out-of-date: CODE`; the exit status is the worst.
  FILE.meta is a path from the shell's current directory, NOT from --cwd (give
  /obj/lib/foo.o.meta, or cd there). A FILE.meta that does not exist, while its target does,
  is up to date as in bmake (unless --missing-meta), and stderr says it was not found.

check options (each is the bmake setting named on the right):
  --cwd DIR            .OBJDIR: relative paths resolve here; CWD must equal its realpath
                       (default: the current directory)
  --curdir DIR         .CURDIR, shown in the cwd message (default: --cwd)
  --target NAME        the target, relative to --cwd (default: the TARGET record)
  --cmd TEXT           a current command, expanded; repeat for each, in order
  --cmd-nocompare TEXT a current command that uses ${.OODATE} or $?: counted, not compared
                       (no --cmd/--cmd-nocompare at all: commands are not compared)
  --no-cmd-compare     .NOMETA_CMP: compare the number of commands only
  --ignore-cmd         .MAKE.MODE=ignore-cmd: report a changed command, do not rebuild
  --ignore-path P      .MAKE.META.IGNORE_PATHS (repeatable; a prefix of the realpath).
                       Added by default: /dev /etc /proc /tmp /var/run /var/tmp $TMPDIR
  --ignore-pattern G   .MAKE.META.IGNORE_PATTERNS (repeatable; a :M glob: * ? [a-z] \c)
  --ignore-filter MODS .MAKE.META.IGNORE_FILTER: modifiers; a path is ignored if they make
                       it empty, e.g. 'N*.gen' or 'C,^/obj/.*,,'
  --cmp-filter MODS    .MAKE.META.CMP_FILTER (compat 20260313): modifiers applied to both
                       commands before comparing, e.g. 'S,-O2,,g'
                       Modifiers: S/old/new/[g1W] C/regex/new/[g1W] (POSIX ERE) M<glob>
                       N<glob> H T R E tl tu Q q ts<c> tW tw u O Or [N] [N..M] [#] [*] [@];
                       those with side effects or that need a makefile (:!cmd! :sh :_ :?
                       :::= :D :U :tA ...) are refused.
  --bailiwick P        .MAKE.META.BAILIWICK (repeatable)
  --missing-meta       missing-meta=yes: a missing FILE.meta makes the target out of date
  --missing-filemon    missing-filemon=yes: no filemon section makes it out of date
  --compat V           20260313 (default; current FreeBSD: "F:N: ..." messages) or 20200710
                       (Debian's bmake: "F: N: ...", no CMP_FILTER)
  --format text|json   json: one object per file
Beyond bmake (opt-in; the default is bmake's behaviour):
  --no-default-ignore-paths  drop the default ignore paths above (keep only --ignore-path),
                       e.g. for a project under /tmp
  --mtime-resolution R seconds (default, bmake: newer means a later second) or full (the file
                       system's nanoseconds: a file written after the target in the same
                       second is newer)
  --probes             use the N lines (absent-path probes, `filemon --probes`, `run
                       --probes`): a path looked for and not found when the target was
                       built, which exists now, makes it out of date (`appeared`): a header
                       that now shadows the one read, a program earlier in PATH. Resolved
                       in the probing process's directory; ignore paths, patterns and the
                       filter apply as to R; not when the .meta itself later wrote, renamed
                       or linked it. Checked after bmake's rules. Without it N lines are
                       skipped, as bmake skips them
  --jobs N             threads (default: one per core): several files are checked in
                       parallel; the filemon section of a single .meta of 256 KiB or more is
                       read by N threads together (same decision; --jobs 1: one thread)

deps: every path the commands read (R), executed (E), wrote (W), deleted (D) and moved (M,
  both ends) or linked (L), made absolute per process (its own directory, from its parent's F
  record or the CWD; a relative C from there), deduplicated, and the paths probed and not
  found (N, `run --probes`; text `N PATH`, JSON "probed"); then, as meta2deps.py does, the
  directories the existing files read or executed belong to: `src:DIR` under a source root,
  `obj:DIR` under an object root (each root also tried as its realpath, and each directory).
  --srctop DIR, --objroot DIR (repeatable; meta2deps -S, -O): relative to the current
                       directory; the longest matching root wins
  --machine M          (-m) OBJROOT/M/RELDIR is `RELDIR`, OBJROOT/OTHER/RELDIR `RELDIR.OTHER`;
                       a trailing /M is trimmed from object roots. Without it (or `none`):
                       the directory relative to the object root
  --host-target HT     (-H) the machine component of `host` object directories
  --target-spec TS     (-T) also trimmed from object roots and .dirdep names
  --curdir DIR         (-C) the source directory built: files read there are not grouped
  --exclude PREFIX     (-X, repeatable) files named with this prefix are not grouped
  --dpdeps FILE        (-D) write `DPDEPS_file += RELDIR` per grouped source file and
                       `DEPDIRS_dir += RELDIR` per object directory to FILE
  --reldir R           (-R) RELDIR for --dpdeps (default: --curdir below a source root)
  --cwd DIR            resolve relative names against DIR instead of the CWD record
  --jobs N             threads (default: one per core)
  --format text|json|meta2deps: meta2deps prints what meta2deps.py prints (the object
                       directories, then `src:DIR` lines, in first-seen order) and accepts its
                       arguments (-S -O -m -H -T -C -X -D -R -a -d -q, KEY=VALUE, @LIST,
                       $MACHINE...) so that gendirdeps.mk can run it (README)
  `.dirdep` files name the object directory of a staged file (FILE.dirdep or DIR/.dirdep).
  Exit status: 0; 1 if a .meta was truncated (no footer) or a process that executed a
  program has no X record (warned on stderr; the output is printed); 2 usage or I/O error.

run: runs each --cmd TEXT with `/bin/sh -c`, as bmake does (or COMMAND as given), under a
  tracing backend (--backend auto|ptrace|preload|ebpf|kernel, default auto: as `filemon
  --help` says), in --cwd (default: here), and writes FILE.meta in bmake's layout
  (CMD/CWD/TARGET header, the output, a failing command's "*** Error code N", the filemon
  section), so that builders other than bmake can use `check`: `check --cmd TEXT` with the
  same TEXT then compares the commands. The output is also shown. --probes records
  absent-path probes (N lines, for `check --probes`; ptrace, preload, ebpf and auto).
  SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to it are passed on to the command, as by
  `filemon`; then, as an interrupted bmake: no further command, FILE.meta written, the target
  removed, and run dies of the signal itself (SIGQUIT: exits 131). A command killed by
  signal N has "*** Error code N" in FILE.meta, as bmake writes it. Exit status, as
  `filemon`'s: the first failing command's own status (else 0; 128+N for signal N), or 125
  usage (bad options, unknown backend), 126 cannot trace (backend unavailable here, a
  command that cannot start), 127 cannot write FILE.meta.
Every option that takes a value may be written --name=VALUE or --name VALUE.
)";

// `filemon-meta check`'s command line.
struct CheckArgs {
  filemon::meta::CheckOptions options;
  std::vector<std::string> files;
  std::string format = "text";
  int jobs = 0;  // 0: every core
};

// Parses one flag with a value at argv[*i] (advancing `*i` past its value); false if `arg` is
// none of these. `*error` says what is wrong with a flag it took.
bool CheckValueFlag(int argc, char** argv, int* i, CheckArgs* args, std::string* error) {
  filemon::meta::CheckOptions& options = args->options;
  std::string v;
  if (FlagValue(argc, argv, i, "--cwd", &options.cwd, error) ||
      FlagValue(argc, argv, i, "--curdir", &options.curdir, error) ||
      FlagValue(argc, argv, i, "--target", &options.target, error) ||
      FlagValue(argc, argv, i, "--ignore-filter", &options.ignore_filter, error) ||
      FlagValue(argc, argv, i, "--cmp-filter", &options.cmp_filter, error) ||
      FlagValue(argc, argv, i, "--format", &args->format, error)) {
  } else if (FlagValue(argc, argv, i, "--mtime-resolution", &v, error)) {
    if (v == "full") {
      options.mtime_resolution = filemon::meta::MtimeResolution::kFull;
    } else if (v == "seconds") {
      options.mtime_resolution = filemon::meta::MtimeResolution::kWholeSeconds;
    } else {
      *error = absl::StrCat("--mtime-resolution: '", v, "' is not seconds or full");
    }
  } else if (FlagValue(argc, argv, i, "--cmd-nocompare", &v, error)) {
    if (!options.commands) options.commands.emplace();
    options.commands->push_back({v, false});
  } else if (FlagValue(argc, argv, i, "--cmd", &v, error)) {
    if (!options.commands) options.commands.emplace();
    options.commands->push_back({v, true});
  } else if (FlagValue(argc, argv, i, "--ignore-path", &v, error)) {
    options.ignore_paths.push_back(v);
  } else if (FlagValue(argc, argv, i, "--ignore-pattern", &v, error)) {
    options.ignore_patterns.push_back(v);
  } else if (FlagValue(argc, argv, i, "--bailiwick", &v, error)) {
    options.bailiwick.push_back(v);
  } else if (FlagValue(argc, argv, i, "--compat", &v, error)) {
    if (error->empty() && !filemon::meta::ParseCompat(v, &options.compat)) {
      *error = absl::StrCat("--compat: '", v, "' is not 20200710 or 20260313");
    }
  } else if (FlagValue(argc, argv, i, "--jobs", &v, error)) {
    if (error->empty() && (!absl::SimpleAtoi(v, &args->jobs) || args->jobs < 0)) {
      *error = absl::StrCat("--jobs: '", v, "' is not a number");
    }
  } else {
    return false;
  }
  return true;
}

// The command line after "check"; an empty string, or what is wrong with it.
std::string ParseCheckArgs(int argc, char** argv, CheckArgs* args) {
  filemon::meta::CheckOptions& options = args->options;
  std::string error;
  for (int i = 0; i < argc && error.empty(); ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--no-cmd-compare") {
      options.no_cmd_compare = true;
    } else if (arg == "--no-default-ignore-paths") {
      options.default_ignore_paths.emplace();
    } else if (arg == "--ignore-cmd") {
      options.ignore_cmd = true;
    } else if (arg == "--probes") {
      options.probes = true;
    } else if (arg == "--missing-meta") {
      options.missing_meta = true;
    } else if (arg == "--missing-filemon") {
      options.missing_filemon = true;
    } else if (CheckValueFlag(argc, argv, &i, args, &error)) {
    } else if (arg == "--") {
      for (++i; i < argc; ++i) args->files.emplace_back(argv[i]);
    } else if (absl::StartsWith(arg, "-") && arg != "-") {
      error = absl::StrCat("check: unknown option '", arg, "'");
    } else {
      args->files.emplace_back(arg);
    }
  }
  if (!error.empty()) return error;
  if (args->format != "text" && args->format != "json") {
    return absl::StrCat("--format: '", args->format, "' is not text or json");
  }
  if (args->files.empty()) return "check: no FILE.meta given";
  return "";
}

// The decisions on standard output (errors on standard error); the exit status.
int PrintDecisions(const std::vector<absl::StatusOr<filemon::meta::Decision>>& results,
                   const CheckArgs& args) {
  const bool json = args.format == "json";
  const bool many = args.files.size() > 1;
  int status = kExitUpToDate;
  std::string out;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      std::fprintf(stderr, "filemon-meta: %s\n",
                   std::string(results[i].status().message()).c_str());
      status = kExitError;
      continue;
    }
    const filemon::meta::Decision& d = *results[i];
    if (d.meta_missing) {
      // bmake decides silently; a misspelt name would look up to date.
      std::fprintf(stderr,
                   "filemon-meta: %s: no such file (as in bmake, the verdict comes from the "
                   "target and --missing-meta alone)\n",
                   d.meta_path.c_str());
    }
    if (d.out_of_date && status == kExitUpToDate) status = kExitOutOfDate;
    if (json) {
      absl::StrAppend(&out, filemon::meta::DecisionJson(d), "\n");
      continue;
    }
    const std::string verdict =
        d.out_of_date ? absl::StrCat("out-of-date: ", filemon::meta::ReasonCode(d.reason))
                      : "up-to-date";
    if (many) {
      absl::StrAppend(&out, args.files[i], ": ", verdict, "\n");
      continue;
    }
    absl::StrAppend(&out, verdict, "\n");
    for (const std::string& m : d.messages) absl::StrAppend(&out, m, "\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) return kExitError;
  return status;
}

int Check(int argc, char** argv) {
  CheckArgs args;
  const std::string error = ParseCheckArgs(argc, argv, &args);
  if (!error.empty()) return UsageError(error);
  if (const char* tmpdir = std::getenv("TMPDIR")) args.options.tmpdir_env = tmpdir;
  absl::StatusOr<filemon::meta::Checker> checker = filemon::meta::Checker::Create(args.options);
  if (!checker.ok()) {
    std::fprintf(stderr, "filemon-meta: %s\n", std::string(checker.status().message()).c_str());
    return kExitError;
  }
  std::vector<absl::StatusOr<filemon::meta::Decision>> results;
  if (args.files.size() > 1) {
    results = checker->CheckFiles(args.files, args.jobs);
  } else {
    const int threads =
        args.jobs > 0 ? args.jobs : static_cast<int>(std::thread::hardware_concurrency());
    results.push_back(checker->CheckFileWith(args.files[0], std::max(threads, 1)));
  }
  return PrintDecisions(results, args);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitError;
  }
  const absl::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (command == "check") return Check(argc - 2, argv + 2);
  if (command == "deps") return filemon_meta_tool::RunDeps(argc - 2, argv + 2);
  if (command == "run") return filemon_meta_tool::RunRun(argc - 2, argv + 2);
  return filemon_meta_tool::UsageError(absl::StrCat("unknown command '", command, "'"));
}
