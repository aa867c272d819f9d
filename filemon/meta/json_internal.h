// File: filemon/meta/json_internal.h (internal to //filemon/meta)
//
// The JSON string escaping shared by DecisionJson() and DepsJson().

#ifndef FILEMON_META_JSON_INTERNAL_H_
#define FILEMON_META_JSON_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {
namespace internal {

// Appends `s` as a JSON string (quotes included; '"', '\\' and control bytes escaped). Other
// bytes are copied as they are: paths are bytes, not necessarily UTF-8.
void AppendJsonString(absl::string_view s, std::string* out);

// Appends `"name":[...]` for a list of strings.
void AppendJsonList(absl::string_view name, const std::vector<std::string>& items,
                    std::string* out);

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_JSON_INTERNAL_H_
