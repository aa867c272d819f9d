#include "tools/flags.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace filemon_tools {

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

}  // namespace filemon_tools
