#include "tools/filemon_meta_commands.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace filemon_meta_tool {

bool FlagValue(int argc, char** argv, int* i, absl::string_view name, std::string* value,
               std::string* error) {
  absl::string_view arg = argv[*i];
  if (!absl::ConsumePrefix(&arg, name)) return false;
  if (arg.empty()) {
    if (*i + 1 >= argc) {
      *error = absl::StrCat(name, " needs a value");
      return true;
    }
    *value = argv[++*i];
    return true;
  }
  if (arg[0] != '=') return false;
  *value = std::string(arg.substr(1));
  return true;
}

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "filemon-meta: %s\n(see filemon-meta --help)\n",
               std::string(message).c_str());
  return 2;
}

}  // namespace filemon_meta_tool
