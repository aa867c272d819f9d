// File: filemon/core/find_program.h
//
// execvp(3)'s search for a backend's command, done before the fork so that the child allocates
// nothing, and the words for its execve's failure. Every backend that starts a command uses
// them, so that they run the same program and explain its failure alike.
//
// Example:
//   absl::StatusOr<std::string> program = FindProgram(command);
//   if (!program.ok()) return program.status();
//   // in the child, after chdir(command.cwd): execve(program->c_str(), ...)
//   // the child's execve failed with `error`:
//   return absl::ErrnoToStatus(error, "cannot start the command: " +
//                                         DescribeFailedExec(error, *program, command.cwd));

#ifndef FILEMON_CORE_FIND_PROGRAM_H_
#define FILEMON_CORE_FIND_PROGRAM_H_

#include <string>

#include "absl/status/statusor.h"
#include "filemon/core/backend.h"

namespace filemon {

// The path to exec for `command.argv[0]`, valid in the command's working directory: argv[0]
// itself when it holds a '/'; else the first regular, executable file DIR/argv[0] for each DIR
// of the PATH of the environment the command gets (`command.env`, else the caller's), or of
// kDefaultSearchPath when that environment has no PATH ("./argv[0]" for an empty DIR).
// PermissionDenied when only files that cannot be executed matched, NotFound when none did.
// REQUIRES: `command.argv` is not empty.
absl::StatusOr<std::string> FindProgram(const Command& command);

// The failed call for the message of a command whose execve(program) failed with errno `error`
// in the directory `cwd` (empty: ours): "execve(PROGRAM)". When the error is ENOENT although
// PROGRAM exists and begins with "#!", and that interpreter does not exist, names it:
// "execve(./x.sh): its interpreter /nonexistent/sh", since the kernel reports a script's
// missing interpreter as ENOENT of the script itself. Reads the "#!" line as the kernel does
// (shebang.h): at most its first kShebangBufferSize bytes.
std::string DescribeFailedExec(int error, const std::string& program, const std::string& cwd);

}  // namespace filemon

#endif  // FILEMON_CORE_FIND_PROGRAM_H_
