// File: tools/filemon_meta_commands.h
//
// The subcommands of `filemon-meta` that live in their own libraries: `deps` (meta only) and
// `run` (the one place filemon-meta uses a tracing backend). `check` is in filemon_meta.cc.
// Each takes the arguments after the subcommand name and returns the exit status.

#ifndef TOOLS_FILEMON_META_COMMANDS_H_
#define TOOLS_FILEMON_META_COMMANDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "tools/flags.h"

namespace filemon_meta_tool {

using filemon_tools::FlagValue;

// Prints "filemon-meta: <message>\n(see filemon-meta --help)\n" to stderr; returns 2.
int UsageError(absl::string_view message);

// `filemon-meta deps [--format text|json|meta2deps] [options] FILE.meta...`
// (filemon_meta_deps.cc).
int RunDeps(int argc, char** argv);

// `filemon-meta run --meta FILE.meta --target NAME [--backend B] [--cwd DIR] -- COMMAND...`
// (filemon_meta_run.cc).
int RunRun(int argc, char** argv);

}  // namespace filemon_meta_tool

#endif  // TOOLS_FILEMON_META_COMMANDS_H_
