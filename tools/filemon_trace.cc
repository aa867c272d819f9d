#include <cstdio>
#include <cstring>

#include "tools/filemon_commands.h"

namespace filemon_tool {
namespace {

constexpr char kUsage[] =
    "usage: filemon [--backend=ptrace|preload|kernel|auto] [-o FILE] [--format=filemon|json]\n"
    "               [--absolute] [--] COMMAND [ARGS...]\n"
    "       filemon parse [--format=filemon|json] [--strict|--lenient] FILE|-\n"
    "\n"
    "Runs COMMAND and records which files it and all its descendants read, write, execute,\n"
    "rename, link and delete, in the FreeBSD filemon(4) log format.\n";

}  // namespace

int RunTrace(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fputs(kUsage, stderr);
  std::fprintf(stderr, "filemon: tracing is not built yet (issue 10)\n");
  return kExitUsage;
}

}  // namespace filemon_tool
