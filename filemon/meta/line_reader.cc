#include "filemon/meta/line_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace filemon {
namespace meta {
namespace internal {

// bmake's fgets() of at most `room` - 1 bytes at pos_: through the next '\n', appended to
// `*buf`. False at the end of the data (fgets() returns NULL).
bool LineReader::Fgets(size_t room, std::string* buf) {
  if (pos_ >= data_.size() || room <= 1) return false;
  const size_t max = std::min(room - 1, data_.size() - pos_);
  const void* nl = std::memchr(data_.data() + pos_, '\n', max);
  const size_t n =
      nl ? static_cast<size_t>(static_cast<const char*>(nl) - data_.data()) - pos_ + 1 : max;
  buf->append(data_.data() + pos_, n);
  pos_ += n;
  return true;
}

// A line as bmake's fgetLine() reads it, for the lines plain splitting would get wrong: one
// that holds a NUL, does not fit the buffer, or lacks its '\n'. strlen() stops at a NUL, so
// the line seems to lack its '\n'; bmake then grows its buffer (to half the file size, then
// the whole size, rounded up to BUFSIZ) and reads on at the NUL, so the next line is glued
// onto the text before the NUL. A file too small to grow the buffer for gives the text before
// the NUL, without its '\n' (a truncated line). The buffer size carries over from line to
// line, as bmake's static buffer does.
bool LineReader::NextAsFgetLine(MetaLine* line, size_t offset) {
  constexpr size_t kBufSiz = 8192;  // glibc's BUFSIZ, bmake's unit
  const auto round_up = [](size_t n) { return (n + kBufSiz - 1) / kBufSiz * kBufSiz; };
  std::string buf;  // bmake's buffer from `offset` on
  Fgets(bufsz_ - offset, &buf);
  // bmake tests buf[x - 1] == '\n' with x counted from the buffer's start: for an empty
  // string after `offset`, the '\n' of the line before.
  const auto ends_line = [&buf, offset](size_t x) {
    return x > 0 ? buf[x - 1] == '\n' : offset > 0;
  };
  size_t x;
  for (;;) {
    const size_t nul = buf.find('\0');
    x = nul == std::string::npos ? buf.size() : nul;
    buf.resize(x);
    if (ends_line(x)) break;
    size_t grown = round_up(data_.size() / 2);
    if (grown <= bufsz_) grown = round_up(data_.size());
    if (grown <= bufsz_) break;  // truncated
    notes_.push_back(absl::StrCat("growing buffer ", bufsz_, " -> ", grown));
    bufsz_ = grown;
    if (!Fgets(bufsz_ - offset - x, &buf)) break;  // truncated
  }
  line->read_length = x;
  line->complete = ends_line(x);
  if (x > 0 && line->complete) buf.pop_back();
  glued_.push_back(std::move(buf));
  line->text = glued_.back();
  return offset + x > 0;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
