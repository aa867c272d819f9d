#include "filemon/backends/path_rules.h"

#include <fcntl.h>
#include <string.h>

#include "filemon/core/open_rule.h"
#include "filemon/core/record.h"

namespace filemon {
namespace path_rules {

Text& Text::Append(absl::string_view s) {
  size_t room = capacity_ - size_;
  size_t n = s.size() < room ? s.size() : room;
  if (n < s.size()) overflow_ = true;
  memcpy(data_ + size_, s.data(), n);
  size_ += n;
  return *this;
}

Text& Text::AppendInt(int64_t value) {
  char digits[24];
  size_t n = 0;
  uint64_t v = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    digits[sizeof(digits) - 1 - n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (value < 0) digits[sizeof(digits) - 1 - n++] = '-';
  return Append(absl::string_view(digits + sizeof(digits) - n, n));
}

const char* Text::c_str() {
  if (size_ == capacity_) {
    overflow_ = true;
    --size_;
  }
  data_[size_] = '\0';
  return data_;
}

void AppendJoined(absl::string_view dir, absl::string_view path, Text* out) {
  while (path.size() >= 2 && path[0] == '.' && path[1] == '/') path.remove_prefix(2);
  if (path == ".") path = absl::string_view();
  out->Append(dir);
  if (!path.empty()) {
    if (dir != "/") out->Append("/");
    out->Append(path);
  }
}

void AddOpenRecords(RecordSink* sink, pid_t pid, uint64_t flags, absl::string_view as_passed,
                    absl::string_view resolved, OpenClue clue) {
  if (clue == OpenClue::kAt) sink->Add(Record::Path(RecordKind::kAt, pid, as_passed));
  ForEachOpenRecord(flags, [&](OpenRecord r) {
    sink->Add(Record::Path(r == OpenRecord::kRead ? RecordKind::kRead : RecordKind::kWrite, pid,
                           resolved));
  });
}

}  // namespace path_rules
}  // namespace filemon
