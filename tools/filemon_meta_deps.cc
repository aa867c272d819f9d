// `filemon-meta deps`: what the commands of one or more .meta files touched, and the
// directories they read from, as text, JSON, or meta2deps.py's own output (a drop-in for it in
// gendirdeps.mk, which is why meta2deps's short options and KEY=VALUE arguments are accepted).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "filemon/core/log_reader.h"
#include "filemon/core/owned_fd.h"
#include "filemon/meta/deps.h"
#include "tools/filemon_meta_commands.h"

namespace filemon_meta_tool {
namespace {

constexpr int kExitWarned = 1;
constexpr int kExitError = 2;

struct DepsArgs {
  filemon::meta::DepsOptions options;
  std::vector<std::string> files;
  std::string format = "text";
  std::string dpdeps;  // -D FILE
  std::string reldir;  // -R
  int jobs = 0;
  bool quiet = false;  // -q
};

// meta2deps's environment: MACHINE, then MACHINE_ARCH, SB_SRC and SB_OBJROOT, each read only
// if the one before it is set (its lookups share one `try`).
void ReadMeta2depsEnvironment(DepsArgs* a) {
  const char* machine = std::getenv("MACHINE");
  if (machine == nullptr) return;
  if (*machine != '\0') a->options.machine = machine;
  if (std::getenv("MACHINE_ARCH") == nullptr) return;
  const char* src = std::getenv("SB_SRC");
  if (src == nullptr) return;
  if (*src != '\0') a->options.srctops.push_back(src);
  const char* obj = std::getenv("SB_OBJROOT");
  if (obj != nullptr && *obj != '\0') a->options.objroots.push_back(obj);
}

// meta2deps's KEY=VALUE arguments.
void Assign(absl::string_view key, absl::string_view value, DepsArgs* a) {
  const std::string v(value);
  if (key == "SRCTOP" || key == "SRCTOPS") a->options.srctops.push_back(v);
  if (key == "OBJROOT" || key == "OBJROOTS") a->options.objroots.push_back(v);
  if (key == "MACHINE") a->options.machine = v;
  if (key == "HOST_TARGET") a->options.host_target = v;
  if (key == "TARGET_SPEC") a->options.target_spec = v;
  if (key == "CURDIR") a->options.curdir = v;
  if (key == "RELDIR") a->reldir = v;
  if (key == "DPDEPS") a->dpdeps = v;
}

// meta2deps's one-letter options, as "-X VALUE" or "-XVALUE". Returns false if argv[*i] is
// none of them.
bool ShortOption(int argc, char** argv, int* i, DepsArgs* a, std::string* error) {
  const absl::string_view arg = argv[*i];
  if (arg.size() < 2 || arg[0] != '-' || arg[1] == '-') return false;
  const char letter = arg[1];
  if (arg.find_first_not_of("dq", 1) == absl::string_view::npos) {  // -d, -q, -ddd (getopt)
    if (arg.find('q') != absl::string_view::npos) a->quiet = true;
    return true;
  }
  std::string* target = nullptr;
  std::vector<std::string>* list = nullptr;
  std::string ignored;
  switch (letter) {
    case 'S':
      list = &a->options.srctops;
      break;
    case 'O':
      list = &a->options.objroots;
      break;
    case 'X':
      list = &a->options.excludes;
      break;
    case 'C':
      target = &a->options.curdir;
      break;
    case 'm':
      target = &a->options.machine;
      break;
    case 'H':
      target = &a->options.host_target;
      break;
    case 'T':
      target = &a->options.target_spec;
      break;
    case 'R':
      target = &a->reldir;
      break;
    case 'D':
      target = &a->dpdeps;
      break;
    case 'a':
      target = &ignored;
      break;  // MACHINE_ARCH: not used by the model
    default:
      return false;
  }
  std::string value;
  if (arg.size() > 2) {
    value = std::string(arg.substr(2));
  } else if (*i + 1 < argc) {
    value = argv[++*i];
  } else {
    *error = absl::StrCat("deps: ", arg, " needs a value");
    return true;
  }
  if (list != nullptr) list->push_back(value);
  if (target != nullptr) *target = value;
  return true;
}

bool LongOption(int argc, char** argv, int* i, DepsArgs* a, std::string* error) {
  std::string v;
  filemon::meta::DepsOptions& o = a->options;
  for (auto [name, list] :
       {std::make_pair("--srctop", &o.srctops), std::make_pair("--objroot", &o.objroots),
        std::make_pair("--exclude", &o.excludes)}) {
    if (FlagValue(argc, argv, i, name, &v, error)) {
      list->push_back(v);
      return true;
    }
  }
  for (auto [name, field] :
       {std::make_pair("--cwd", &o.cwd), std::make_pair("--machine", &o.machine),
        std::make_pair("--host-target", &o.host_target),
        std::make_pair("--target-spec", &o.target_spec), std::make_pair("--curdir", &o.curdir),
        std::make_pair("--format", &a->format), std::make_pair("--dpdeps", &a->dpdeps),
        std::make_pair("--reldir", &a->reldir)}) {
    if (FlagValue(argc, argv, i, name, field, error)) return true;
  }
  if (FlagValue(argc, argv, i, "--jobs", &v, error)) {
    if (error->empty() && (!absl::SimpleAtoi(v, &a->jobs) || a->jobs < 0)) {
      *error = absl::StrCat("deps: --jobs: '", v, "' is not a number");
    }
    return true;
  }
  return false;
}

// FILE.meta, or @LIST (names separated by blanks and newlines). With `only_existing`
// (meta2deps), a name that does not exist or is neither is skipped. A list that cannot be
// read is an error (as for a .meta), not an empty list; it is read as a .meta from a pipe is,
// with the same limits, so that @/dev/zero ends at once.
absl::Status AddFiles(absl::string_view arg, bool only_existing, std::vector<std::string>* files) {
  constexpr size_t kMaxList = size_t{64} << 20;
  std::vector<std::string> names;
  if (absl::StartsWith(arg, "@")) {
    const std::string list(arg.substr(1));
    const filemon::OwnedFd fd(open(list.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open(", list, ") (@LIST)"));
    std::string text;
    const absl::Status read = filemon::ReadWholeStream(fd.get(), list, kMaxList, &text);
    if (!read.ok()) return read;
    for (absl::string_view f :
         absl::StrSplit(text, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty())) {
      names.emplace_back(f);
    }
  } else if (!only_existing || absl::EndsWith(arg, ".meta")) {
    names.emplace_back(arg);
  }
  for (std::string& n : names) {
    if (only_existing && access(n.c_str(), F_OK) != 0) continue;
    files->push_back(std::move(n));
  }
  return absl::OkStatus();
}

// The directory relative to the first source root it is under (meta2deps's RELDIR from
// CURDIR), or "".
std::string RelDir(const filemon::meta::DepsOptions& o) {
  for (const std::string& s : o.srctops) {
    const std::string top = absl::EndsWith(s, "/") ? s : s + "/";
    if (absl::StartsWith(o.curdir, top)) return o.curdir.substr(top.size());
  }
  return "";
}

bool WriteDpdeps(const DepsArgs& a, const filemon::meta::Deps& all) {
  std::string reldir = a.reldir.empty() ? RelDir(a.options) : a.reldir;
  std::string out;
  if (!reldir.empty()) {
    std::vector<std::string> files = all.dp_files;
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) absl::StrAppend(&out, "DPDEPS_", f, " += ", reldir, "\n");
    for (const std::string& d : all.obj_dirs) {
      absl::StrAppend(&out, "DEPDIRS_", d, " += ", reldir, "\n");
    }
  }
  std::ofstream file(a.dpdeps, std::ios::binary | std::ios::trunc);
  file << out;
  file.close();
  return static_cast<bool>(file);
}

std::string Format(const DepsArgs& a, const filemon::meta::Deps& all) {
  std::string out;
  if (a.format == "json") return absl::StrCat(filemon::meta::DepsJson(all), "\n");
  if (a.format == "meta2deps") {
    return absl::StrCat(absl::StrJoin(all.obj_dirs, "\n"),
                        "\nsrc:", absl::StrJoin(all.src_dirs, "\nsrc:"), "\n");
  }
  for (const auto& [letter, list] :
       {std::make_pair("R", &all.read), std::make_pair("E", &all.exec),
        std::make_pair("W", &all.write), std::make_pair("D", &all.deleted)}) {
    for (const std::string& p : *list) absl::StrAppend(&out, letter, " ", p, "\n");
  }
  for (const auto& [from, to] : all.renamed) absl::StrAppend(&out, "M ", from, " ", to, "\n");
  for (const std::string& p : all.probed) absl::StrAppend(&out, "N ", p, "\n");
  for (auto [prefix, list] :
       {std::make_pair("src:", all.src_dirs), std::make_pair("obj:", all.obj_dirs)}) {
    std::sort(list.begin(), list.end());
    for (const std::string& d : list) absl::StrAppend(&out, prefix, d, "\n");
  }
  return out;
}

}  // namespace

int RunDeps(int argc, char** argv) {
  DepsArgs a;
  for (int i = 0; i < argc; ++i) {
    if (absl::StartsWith(argv[i], "--format=meta2deps") ||
        (absl::string_view(argv[i]) == "--format" && i + 1 < argc &&
         absl::string_view(argv[i + 1]) == "meta2deps")) {
      ReadMeta2depsEnvironment(&a);
    }
  }
  std::vector<std::string> args;
  std::string error;
  bool files_started = false;
  for (int i = 0; i < argc && error.empty(); ++i) {
    const absl::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    if (LongOption(argc, argv, &i, &a, &error) || ShortOption(argc, argv, &i, &a, &error)) {
    } else if (absl::StartsWith(arg, "-")) {
      error = absl::StrCat("deps: unknown option '", arg, "'");
    } else if (!files_started && eq != absl::string_view::npos && eq > 0) {
      Assign(arg.substr(0, eq), arg.substr(eq + 1), &a);
    } else {
      files_started = true;
      args.emplace_back(arg);
    }
  }
  if (!error.empty()) return UsageError(error);
  if (a.format != "text" && a.format != "json" && a.format != "meta2deps") {
    return UsageError(
        absl::StrCat("deps: --format: '", a.format, "' is not text, json or meta2deps"));
  }
  const bool meta2deps = a.format == "meta2deps";
  if (meta2deps) a.options.lists = filemon::meta::DepsLists::kDirectoriesOnly;
  a.options.dp_files = !a.dpdeps.empty();
  for (const std::string& arg : args) {
    const absl::Status added = AddFiles(arg, meta2deps, &a.files);
    if (!added.ok()) {
      std::fprintf(stderr, "filemon-meta: %s\n", std::string(added.message()).c_str());
      return kExitError;
    }
  }
  if (a.files.empty()) {
    if (meta2deps) return 0;  // meta2deps prints nothing when it read no file
    return UsageError("deps: no FILE.meta given");
  }
  int status = 0;
  std::vector<absl::StatusOr<filemon::meta::Deps>> results =
      filemon::meta::ReadDepsFiles(a.files, a.options, a.jobs);
  std::vector<const filemon::meta::Deps*> parts;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      std::fprintf(stderr, "filemon-meta: %s\n",
                   std::string(results[i].status().message()).c_str());
      // meta2deps.py reads a .meta without filemon data as one that read nothing.
      const bool no_filemon = absl::IsFailedPrecondition(results[i].status());
      status = meta2deps && no_filemon ? std::max(status, kExitWarned) : kExitError;
      continue;
    }
    const filemon::meta::Deps& d = *results[i];
    const char* f = a.files[i].c_str();
    if (d.truncated) {
      std::fprintf(stderr, "filemon-meta: %s: truncated filemon data (no '# Bye bye' footer)\n", f);
    }
    for (const std::string& m : d.missing_exits) {
      std::fprintf(stderr, "filemon-meta: %s: missing eXit for pid %s\n", f, m.c_str());
    }
    if (d.malformed_lines > 0) {
      std::fprintf(stderr, "filemon-meta: %s: %zu malformed filemon line(s) skipped\n", f,
                   d.malformed_lines);
    }
    if ((d.truncated || !d.missing_exits.empty()) && status == 0) status = kExitWarned;
    parts.push_back(&d);
  }
  if (status == kExitError) return status;
  const filemon::meta::Deps all = filemon::meta::MergeAllDeps(parts);
  if (!a.quiet) {
    const std::string out = Format(a, all);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (!a.dpdeps.empty() && !WriteDpdeps(a, all)) {
    std::fprintf(stderr, "filemon-meta: deps: cannot write %s\n", a.dpdeps.c_str());
    return kExitError;
  }
  return std::fflush(stdout) == 0 ? status : kExitError;
}

}  // namespace filemon_meta_tool
