// File: tools/filemon_meta_backend.h
//
// The one call from filemon-meta into the tracing backends: a backend by name ("auto",
// "ptrace", "preload", "kernel"), through //filemon/backends:backend_factory.

#ifndef TOOLS_FILEMON_META_BACKEND_H_
#define TOOLS_FILEMON_META_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/backend.h"

namespace filemon_meta_tool {

absl::StatusOr<std::unique_ptr<filemon::Backend>> MakeBackendByName(absl::string_view name);

}  // namespace filemon_meta_tool

#endif  // TOOLS_FILEMON_META_BACKEND_H_
