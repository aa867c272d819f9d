// `filemon-meta deps`: what the commands of one or more .meta files touched.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/meta/deps.h"
#include "tools/filemon_meta_commands.h"

namespace filemon_meta_tool {
int RunDeps(int argc, char** argv) {
  filemon::meta::DepsOptions options;
  std::vector<std::string> files;
  std::string format = "text";
  std::string error;
  for (int i = 0; i < argc && error.empty(); ++i) {
    const absl::string_view arg = argv[i];
    std::string v;
    if (FlagValue(argc, argv, &i, "--srctop", &v, &error)) {
      options.srctops.push_back(v);
    } else if (FlagValue(argc, argv, &i, "--objroot", &v, &error)) {
      options.objroots.push_back(v);
    } else if (FlagValue(argc, argv, &i, "--cwd", &options.cwd, &error) ||
               FlagValue(argc, argv, &i, "--format", &format, &error)) {
    } else if (absl::StartsWith(arg, "-")) {
      error = absl::StrCat("deps: unknown option '", arg, "'");
    } else {
      files.emplace_back(arg);
    }
  }
  if (!error.empty()) return UsageError(error);
  if (format != "text" && format != "json") {
    return UsageError(absl::StrCat("deps: --format: '", format, "' is not text or json"));
  }
  if (files.empty()) {
    return UsageError("deps: no FILE.meta given");
  }
  filemon::meta::Deps all;
  for (const std::string& file : files) {
    absl::StatusOr<filemon::meta::Deps> deps = filemon::meta::ReadDeps(file, options);
    if (!deps.ok()) {
      std::fprintf(stderr, "filemon-meta: %s\n", std::string(deps.status().message()).c_str());
      return 2;
    }
    filemon::meta::MergeDeps(*deps, &all);
  }
  std::string out;
  if (format == "json") {
    absl::StrAppend(&out, filemon::meta::DepsJson(all), "\n");
  } else {
    for (const auto& [letter, list] :
         {std::make_pair("R", &all.read), std::make_pair("E", &all.exec),
          std::make_pair("W", &all.write), std::make_pair("D", &all.deleted)}) {
      for (const std::string& p : *list) absl::StrAppend(&out, letter, " ", p, "\n");
    }
    for (const auto& [from, to] : all.renamed) absl::StrAppend(&out, "M ", from, " ", to, "\n");
    for (const std::string& d : all.src_dirs) absl::StrAppend(&out, "src:", d, "\n");
    for (const std::string& d : all.obj_dirs) absl::StrAppend(&out, "obj:", d, "\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (all.malformed_lines > 0) {
    std::fprintf(stderr, "filemon-meta: deps: %zu malformed filemon line(s) skipped\n",
                 all.malformed_lines);
  }
  return std::fflush(stdout) == 0 ? 0 : 2;
}

}  // namespace filemon_meta_tool
