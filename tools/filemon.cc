// filemon: trace a command and write what files it and all its children touched, in the
// FreeBSD filemon(4) log format; or parse such a log. See `filemon --help`.

#include <cstdio>
#include <cstring>

#include "tools/filemon_commands.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "parse") == 0) {
    return filemon_tool::RunParse(argc - 2, argv + 2);
  }
  return filemon_tool::RunTrace(argc, argv);
}
