#include "filemon/backends/kernel/kernel_log_follower.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"

namespace filemon {

void KernelLogFollower::Feed(absl::string_view bytes) {
  // Complete lines are handled in place; only a trailing partial line is kept.
  if (!pending_.empty()) {
    const char* newline = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
    if (newline == nullptr) {
      pending_.append(bytes.data(), bytes.size());
      return;
    }
    size_t head = newline - bytes.data();
    pending_.append(bytes.data(), head);
    Line(pending_);
    pending_.clear();
    bytes.remove_prefix(head + 1);
  }
  while (!bytes.empty()) {
    const char* newline = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
    if (newline == nullptr) {
      pending_.assign(bytes.data(), bytes.size());
      return;
    }
    size_t length = newline - bytes.data();
    Line(bytes.substr(0, length));
    bytes.remove_prefix(length + 1);
  }
}

void KernelLogFollower::Finish() {
  if (pending_.empty()) return;
  std::string last;
  last.swap(pending_);
  Line(last);
}

void KernelLogFollower::Line(absl::string_view line) {
  if (line.empty()) return;
  // One parser per line: a malformed line then costs only itself, and its text is at hand.
  ParserOptions options;
  options.filename = "filemon(4) log";
  options.unterminated_last_line = UnterminatedLine::kRecord;
  Parser parser(line, options);
  Record record;
  if (!parser.Next(&record)) {
    ++malformed_;
    scratch_ = absl::StrCat(" filemon: malformed kernel record: ", line);
    sink_->Add(Record::Comment(scratch_));
    return;
  }
  // The header and footer ('#' lines and V) are the sink owner's.
  if (record.kind == RecordKind::kVersion || RecordLetter(record.kind) == '#') return;
  if (record.kind == RecordKind::kFork) {
    live_.insert(record.child_pid);
  } else if (record.kind == RecordKind::kExit) {
    live_.erase(record.pid);
  }
  ++records_;
  sink_->Add(record);
}

}  // namespace filemon
