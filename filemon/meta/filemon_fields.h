// File: filemon/meta/filemon_fields.h (internal to //filemon/meta)
//
// A filemon line cut into fields as bmake's meta_oodate() cuts it (bmake_meta.md §2.2): the
// key is the first byte, whatever follows the first ' ' starts with the pid (read by atoi(),
// so "12x" is 12 and "x" is 0), and the record's argument follows the next ' '. Views point
// into the line.

#ifndef FILEMON_META_FILEMON_FIELDS_H_
#define FILEMON_META_FILEMON_FIELDS_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "filemon/meta/line_reader.h"
#include "filemon/meta/pid_dirs.h"

namespace filemon {
namespace meta {
namespace internal {

// bmake's DEQUOTE: drop a leading quote and cut at the next one.
absl::string_view Dequote(absl::string_view p);

// A filemon line as bmake's meta_oodate() splits it.
struct Fields {
  char key = 0;  // buf[0]
  bool has_after_key = false;
  absl::string_view after_key;  // after the first ' ': the pid and the rest
  int pid = 0;                  // atoi(after_key)
  bool has_arg = false;
  absl::string_view arg;  // what follows the pid and its ' ' (for '#'/'V': after_key)
};

// bmake's split: the key is the first byte, `after_key` follows the first ' ', the pid is
// atoi(after_key) and `arg` follows the next ' '. The usual shape, "K 1234 path", is read without a
// search or atoi().
inline void FieldsFromLine(absl::string_view line, Fields* f) {
  f->key = line.empty() ? '\0' : line[0];
  const size_t sp = line.size() >= 2 && line[1] == ' ' ? 1 : line.find(' ');
  f->has_after_key = sp != absl::string_view::npos;
  f->after_key = f->has_after_key ? line.substr(sp + 1) : absl::string_view();
  f->pid = 0;
  if (f->key == '#' || f->key == 'V') {
    f->has_arg = f->has_after_key;
    f->arg = f->after_key;
    return;
  }
  f->has_arg = false;
  f->arg = absl::string_view();
  if (!f->has_after_key || f->after_key.empty()) return;  // malformed; reported by the caller
  const char* const begin = f->after_key.data();
  const char* const end = begin + f->after_key.size();
  const char* d = begin;
  int value = 0;
  while (d < end && d - begin < 9 && static_cast<unsigned char>(*d - '0') < 10) {
    value = value * 10 + (*d++ - '0');
  }
  if (d > begin && d < end && *d == ' ') {  // 1-9 digits, then the ' ': atoi() says `value`
    f->pid = value;
    f->has_arg = true;
    f->arg = absl::string_view(d + 1, static_cast<size_t>(end - d - 1));
    return;
  }
  f->pid = Atoi(f->after_key);
  const size_t sp2 = f->after_key.find(' ');
  f->has_arg = sp2 != absl::string_view::npos;
  f->arg = f->has_arg ? f->after_key.substr(sp2 + 1) : absl::string_view();
}

// The source and target of an L or M record, as bmake splits and unquotes them. False:
// malformed.
bool SplitTwoPaths(const Fields& f, absl::string_view* src, absl::string_view* dst);

// The shape of most filemon lines, "R 1234 /path\n" (or E): the key, one ' ', 1-9 digits, one
// ' ', an absolute path, a '\n'. bmake's split of such a line gives pid 1234 and arg "/path", as
// FieldsFromLine() would; reading it needs no MetaLine, no Fields and no atoi().
struct QuickLine {
  char key;
  int pid;
  absl::string_view path;
  size_t next;  // offset of the next line
};

// Whether the line at `data + pos` (ending before `data + end`) has that shape, and fits bmake's
// first line buffer; if so, `*out`.
// REQUIRES: the data holds no NUL (bmake would cut a line there).
inline bool ReadQuick(const char* data, size_t pos, size_t end, QuickLine* out) {
  const char* const q = data + pos;
  const char* const limit = data + end;
  if (limit - q < 6 || (q[0] != 'R' && q[0] != 'E') || q[1] != ' ') return false;
  const char* const nl = FindNewline(q + 2, limit);
  if (nl == nullptr) return false;  // the last line, truncated: the general path reports it
  if (static_cast<size_t>(nl - q) + 2 > kBmakeFirstBuffer) return false;  // may grow bmake's buffer
  const char* const digits = q + 2;
  const char* d = digits;
  uint64_t value = 0;  // unsigned: a long run of digits wraps (and is refused) instead of UB
  while (static_cast<unsigned char>(*d - '0') < 10)
    value = value * 10 + (*d++ - '0');  // '\n' stops it
  if (d == digits || d - digits > 9 || *d != ' ' || nl - d < 2 || d[1] != '/') return false;
  out->key = q[0];
  out->pid = static_cast<int>(value);
  out->path = absl::string_view(d + 1, static_cast<size_t>(nl - d - 1));
  out->next = static_cast<size_t>(nl + 1 - data);
  return true;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_FILEMON_FIELDS_H_
