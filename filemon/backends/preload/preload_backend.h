// File: filemon/backends/preload/preload_backend.h
//
// The preload backend: runs a command with libfilemon_preload.so in `LD_PRELOAD` and turns the
// records the interposer sends from every process of the tree into `Record`s for a sink. The
// supervisor forks a reaper (a child subreaper, so that orphans and daemons stay in the tree)
// which starts the command, reaps every process that its parent does not, and reports exit
// statuses, so that a process killed by a signal still gets its `X` record.
//
// The `auto` flavour (`PreloadOptions::auto_mode`) is the same backend with a fallback: a
// command whose program the interposer cannot enter (statically linked, 32-bit) runs entirely
// under the fallback backend (ptrace), and a program exec'd later in the run that the
// interposer cannot enter is handed, in place (same pid), to `helper`, which traces it and its
// descendants with ptrace. How `auto` decides is in README.md ("The preload backend and auto").
//
// Example:
//   absl::StatusOr<std::unique_ptr<filemon::Backend>> backend =
//       filemon::MakePreloadBackend(filemon::PreloadOptions{});
//   absl::StatusOr<filemon::ExitStatus> exit = (*backend)->Run(command, {}, &writer);

#ifndef FILEMON_BACKENDS_PRELOAD_PRELOAD_BACKEND_H_
#define FILEMON_BACKENDS_PRELOAD_PRELOAD_BACKEND_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "filemon/core/backend.h"

namespace filemon {

struct PreloadOptions {
  // The interposer library; empty: `FindPreloadFile("libfilemon_preload.so")`.
  std::string library;
  // `auto`: unpreloadable programs are traced by the fallback (whole run) or `helper` (a
  // program exec'd during the run). Without them, such programs are run untraced and the log
  // says so in a `#` comment, as in plain preload mode.
  bool auto_mode = false;
  // Makes the fallback at its first need (a run, or a session without the library), once; a
  // failure, or none given, means no fallback. A caller of sessions alone (bmake) then never
  // pays for the fallback's own checks.
  std::function<absl::StatusOr<std::unique_ptr<Backend>>()> make_fallback;
  // The `filemon_preload_helper` program; empty in auto mode:
  // `FindPreloadFile("filemon_preload_helper")` if it exists.
  std::string helper;
};

// Never fails today (a missing library is found, or reported, when a run starts); a
// StatusOr so that every backend is made the same way (see backend_factory.h).
absl::StatusOr<std::unique_ptr<Backend>> MakePreloadBackend(PreloadOptions options = {});

// Finds a file installed beside the running program: `$FILEMON_PRELOAD_DIR/name`, then the
// program's directory, `../lib/filemon/name` from it (the layout of `bazel run //:install`),
// `REPO/filemon/backends/preload/name` in every repository REPO of the program's Bazel runfiles
// (whatever name a consumer gave filemon's repository), and `../filemon/backends/preload/name`
// from the program's directory (bazel-bin layout). Returns an absolute path or NotFound naming
// every place tried. `auto` without the library traces with its fallback (ptrace) instead and
// says so once, in a `#` comment of the first log.
absl::StatusOr<std::string> FindPreloadFile(const std::string& name);

}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PRELOAD_BACKEND_H_
