#include <cstdio>

#include "tools/filemon_commands.h"

namespace filemon_tool {

int RunParse(int argc, char** argv) {
  std::fprintf(stderr, "filemon parse: not built yet (issue 9)\n");
  return kExitUsage;
}

}  // namespace filemon_tool
