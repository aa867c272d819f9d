#include "tools/filemon_meta_commands.h"

#include <cstdio>

namespace filemon_meta_tool {

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "filemon-meta: %s\n(see filemon-meta --help)\n",
               std::string(message).c_str());
  return 2;
}

}  // namespace filemon_meta_tool
