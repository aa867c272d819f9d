// File: tools/bmake_scenarios.h
//
// The scenarios of the bmake differential test (filemon_meta_bmake_test.cc): each a Makefile,
// a target, files with set mtimes and a hand-written .meta, with the reason code both bmake
// 20200710 and `filemon-meta check --compat 20200710` must reach. One scenario per rule of
// filemon/meta/bmake_meta.md.

#ifndef TOOLS_BMAKE_SCENARIOS_H_
#define TOOLS_BMAKE_SCENARIOS_H_

#include <ctime>
#include <string>
#include <vector>

namespace filemon_meta_test {

constexpr time_t kT0 = 1600000000;  // the target's mtime is kT0 + 10

struct File {
  std::string path;       // relative to the scenario's base (d/ is .OBJDIR, o/ is outside it)
  int mtime = 0;          // kT0 + mtime
  std::string link = {};  // non-empty: a symlink to this (placeholders allowed)
  bool dir = false;
};

struct Command {
  std::string makefile;  // as written in the Makefile
  std::string expanded;  // as the tool gets it (--cmd)
  bool compare = true;   // false: --cmd-nocompare (uses .OODATE or $?)
};

struct Scenario {
  std::string name;
  std::string expect;  // the tool's code
  std::string meta;    // with @D@ (.OBJDIR) and @O@ (outside); "<none>": no .meta
  std::vector<File> files;
  std::vector<Command> commands = {};  // empty: {"echo build > ${.TARGET}"}
  std::vector<std::string> args = {};  // extra tool arguments (placeholders allowed)
  std::string makefile_vars = {};      // lines before the target
  std::string mode = {};               // appended to .MAKE.MODE
  std::string attrs = {};              // target attributes (.NOMETA_CMP, .META)
  bool no_target = false;
};

// Every scenario, grouped by the rule they test.
std::vector<Scenario> BmakeScenarios();

}  // namespace filemon_meta_test

#endif  // TOOLS_BMAKE_SCENARIOS_H_
