#include "tools/filemon_meta_backend.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace filemon_meta_tool {

absl::StatusOr<std::unique_ptr<filemon::Backend>> MakeBackendByName(absl::string_view name) {
  return absl::UnimplementedError(
      absl::StrCat("no backend factory in this build (wanted '", name, "')"));
}

}  // namespace filemon_meta_tool
