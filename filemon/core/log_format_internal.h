// File: filemon/core/log_format_internal.h
//
// Constants shared by the writer and the parser (the grammar is in log_format.md). Internal to
// filemon/core: not part of the public API.
//
// Example:
//   if (line == kEscapeMarkerLine) ...  // the next record's paths are escaped

#ifndef FILEMON_CORE_LOG_FORMAT_INTERNAL_H_
#define FILEMON_CORE_LOG_FORMAT_INTERNAL_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace filemon {
namespace log_format_internal {

// The comment line written before a record whose paths had to be escaped (log_format.md,
// "Escaped paths"), without its '\n'. bmake skips it as a comment.
inline constexpr absl::string_view kEscapeMarkerLine = "# filemon escape";
// kEscapeMarkerLine's text after the '#', as `Record::path` holds a comment's text.
inline constexpr absl::string_view kEscapeMarkerText = " filemon escape";

// The escape character inside an escaped path and what follows it.
inline constexpr char kEscape = '\\';
inline constexpr char kEscapedNewline = 'n';  // "\n" -> '\n'; "\\" -> '\\'; "\'" -> '\''

// Header and footer comment prefixes (after '#').
inline constexpr absl::string_view kFilemonVersion = " filemon version ";
inline constexpr absl::string_view kBuildmonVersion = " buildmon version ";
inline constexpr absl::string_view kTargetPid = " Target pid ";
inline constexpr absl::string_view kStart = " Start ";
inline constexpr absl::string_view kStop = " Stop ";
inline constexpr absl::string_view kByeBye = " Bye bye";

// Decimal digits of the largest int64 magnitude (9223372036854775808).
inline constexpr size_t kMaxInt64Digits = 19;

}  // namespace log_format_internal
}  // namespace filemon

#endif  // FILEMON_CORE_LOG_FORMAT_INTERNAL_H_
