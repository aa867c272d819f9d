// File: tools/flags.h
//
// Command-line option parsing shared by the `filemon` and `filemon-meta` mains: every option
// that takes a value accepts both `--name VALUE` and `--name=VALUE`.

#ifndef TOOLS_FLAGS_H_
#define TOOLS_FLAGS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace filemon_tools {

// Reads option `name` at argv[*i] as "--name VALUE" (advancing *i) or "--name=VALUE". Returns
// false if argv[*i] is another option. A missing VALUE sets `*error` (and returns true).
bool FlagValue(int argc, char** argv, int* i, absl::string_view name, std::string* value,
               std::string* error);

}  // namespace filemon_tools

#endif  // TOOLS_FLAGS_H_
