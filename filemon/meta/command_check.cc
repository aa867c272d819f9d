#include "filemon/meta/command_check.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace filemon {
namespace meta {
namespace internal {

std::string CommandCheck::JoinContinuation(const MetaLine& line, absl::string_view text,
                                           size_t newlines, LineReader* reader,
                                           Verdict* verdict) const {
  std::string joined(text);
  size_t read = line.read_length;  // bmake's `x`: the bytes in its buffer so far
  MetaLine next;
  while (newlines-- > 0) {
    // The line is read into bmake's buffer after `read` bytes, the last a '\n'.
    if (!verdict->ReadLine(reader, &next, read)) break;
    read += next.read_length;
    // An empty read (a line starting with a NUL) leaves the '\n' before it last in the
    // buffer, where bmake's end of text overwrites it.
    if (next.read_length > 0) absl::StrAppend(&joined, "\n", next.text);
    if (!next.complete) {
      verdict->ContinuationTruncated(read);
      break;
    }
  }
  return joined;
}

void CommandCheck::Cmd(const MetaLine& line, bool has_text, absl::string_view text,
                       LineReader* reader, Verdict* verdict) {
  if (!commands_.has_value()) return;  // commands not compared at all
  if (next_ >= commands_->size()) {
    verdict->CmdMoreInMeta();
    return;
  }
  const CurrentCommand& cmd = (*commands_)[next_++];
  if (!cmd.compare) verdict->CannotCompare();
  const size_t newlines = std::count(cmd.text.begin(), cmd.text.end(), '\n');
  std::string joined;
  if (newlines > 0) {
    joined = JoinContinuation(line, text, newlines, reader, verdict);
    text = joined;
  }
  if (!has_text || !cmd.compare || s_.options.no_cmd_compare) return;
  bool differ = text != cmd.text;
  if (differ && s_.cmp_filter.has_value()) {
    differ = s_.cmp_filter->Apply(text) != s_.cmp_filter->Apply(cmd.text);
  }
  // bmake reports the line of the command's last physical line.
  if (!differ) return;
  verdict->CmdChanged(
      text, cmd.text,
      s_.options.ignore_cmd ? Verdict::CmdChange::kMessageOnly : Verdict::CmdChange::kOutOfDate);
}

void CommandCheck::Cwd(bool has_text, absl::string_view text, Verdict* verdict) {
  if (!verdict->out_of_date() && commands_.has_value() && next_ < commands_->size()) {
    verdict->CmdExtraNow();
  }
  if (!has_text || text.empty()) {
    verdict->Malformed();
    return;
  }
  if (text != s_.cwd) verdict->CwdChanged(text, s_.options.curdir);
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
