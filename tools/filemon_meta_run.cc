#include "tools/filemon_meta_commands.h"
namespace filemon_meta_tool {
int RunRun(int, char**) { return 2; }
}
