#include "tools/filemon_meta_commands.h"
namespace filemon_meta_tool {
int RunDeps(int, char**) { return 2; }
}
