// File: tools/filemon_commands.h
//
// The subcommands of the `filemon` tool, one file each, so that `filemon.cc` only dispatches.
// Each takes the arguments after the subcommand name and returns the process exit status.

#ifndef TOOLS_FILEMON_COMMANDS_H_
#define TOOLS_FILEMON_COMMANDS_H_

namespace filemon_tool {

// `filemon parse [--format=filemon|json] [--strict|--lenient] FILE|-` (filemon_parse.cc).
int RunParse(int argc, char** argv);

// `filemon [options] [--] COMMAND [ARGS...]` (filemon_trace.cc). `argv` is the whole command
// line, program name included.
int RunTrace(int argc, char** argv);

// Exit statuses of the tool's own failures, above any command's status (125, as env(1) and
// xargs(1) use: the tracer itself failed).
inline constexpr int kExitUsage = 125;        // bad options
inline constexpr int kExitTracerError = 126;  // backend unavailable, cannot start the command
inline constexpr int kExitLogError = 127;     // cannot write or read the log

}  // namespace filemon_tool

#endif  // TOOLS_FILEMON_COMMANDS_H_
