// File: filemon/meta/command_check.h (internal to //filemon/meta)
//
// bmake's CMD and CWD records (bmake_meta.md §2.3): each CMD is compared with the next current
// command, as text (prefixes and blanks included; through CMP_FILTER when set); a command
// whose expansion holds '\n' spans that many more .meta lines; the count is checked both ways
// (more CMD records than commands at the CMD, more commands than records at the CWD); the CWD
// must be bmake's working directory.

#ifndef FILEMON_META_COMMAND_CHECK_H_
#define FILEMON_META_COMMAND_CHECK_H_

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "filemon/meta/check_options.h"
#include "filemon/meta/check_state.h"
#include "filemon/meta/line_reader.h"
#include "filemon/meta/verdict.h"

namespace filemon {
namespace meta {
namespace internal {

class CommandCheck {
 public:
  // `commands` unset: commands are not compared (CMD records are skipped, nothing counted).
  // Both outlive this.
  CommandCheck(const CheckState& s, const absl::optional<std::vector<CurrentCommand>>& commands)
      : s_(s), commands_(commands) {}

  // The CMD record `line`; `text` follows "CMD " (`has_text` false: a bare "CMD"). Reads the
  // lines a multi-line command spans from `reader`.
  void Cmd(const MetaLine& line, bool has_text, absl::string_view text, LineReader* reader,
           Verdict* verdict);
  // The CWD record; `text` follows "CWD ".
  void Cwd(bool has_text, absl::string_view text, Verdict* verdict);

 private:
  // The text of a command recorded over `1 + newlines` lines, the first being `line` with
  // `text`: each next line joined by its '\n' (bmake reads it into its buffer after the line
  // before, at an offset: LineReader::Next). Joined, not cut from the data: a line holding a
  // NUL has a text of its own.
  std::string JoinContinuation(const MetaLine& line, absl::string_view text, size_t newlines,
                               LineReader* reader, Verdict* verdict) const;

  const CheckState& s_;
  const absl::optional<std::vector<CurrentCommand>>& commands_;
  size_t next_ = 0;  // the current command the next CMD is compared with
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_COMMAND_CHECK_H_
