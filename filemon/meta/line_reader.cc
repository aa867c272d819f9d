#include "filemon/meta/line_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace filemon {
namespace meta {
namespace internal {

// bmake's fgets() of at most `room` - 1 bytes at pos_: through the next '\n'. Empty at the end
// of the data (fgets() returns NULL); never empty otherwise, as `room` > 1.
absl::string_view LineReader::Fgets(size_t room) {
  if (pos_ >= data_.size() || room <= 1) return {};
  const size_t max = std::min(room - 1, data_.size() - pos_);
  const void* nl = std::memchr(data_.data() + pos_, '\n', max);
  const size_t n =
      nl ? static_cast<size_t>(static_cast<const char*>(nl) - data_.data()) - pos_ + 1 : max;
  const absl::string_view piece(data_.data() + pos_, n);
  pos_ += n;
  return piece;
}

// A line as bmake's fgetLine() reads it, for the lines plain splitting would get wrong: one
// that holds a NUL, does not fit the buffer, or lacks its '\n'. strlen() stops at a NUL, so
// the line seems to lack its '\n'; bmake then grows its buffer (to half the file size, then
// the whole size, rounded up to BUFSIZ) and reads on at the NUL, so the next line is glued
// onto the text before the NUL. A file too small to grow the buffer for gives the text before
// the NUL, without its '\n' (a truncated line). The buffer size carries over from line to
// line, as bmake's static buffer does.
//
// The bytes from a NUL to the end of its piece are never part of the text, so they are not
// kept; and while no NUL has cut a piece that another follows, the text is a view of the data.
// Memory thus follows the text, not the file: a huge line without a NUL, or a file of NULs,
// costs no copy.
bool LineReader::NextAsFgetLine(MetaLine* line, size_t offset) {
  constexpr size_t kBufSiz = 8192;  // glibc's BUFSIZ, bmake's unit
  const auto round_up = [](size_t n) { return (n + kBufSiz - 1) / kBufSiz * kBufSiz; };
  // bmake's buffer from `offset` on, up to its strlen() `x`: [view, view + x) of the data, or
  // `glued` once a piece follows one that a NUL cut.
  const char* view = data_.data() + pos_;
  std::string glued;  // empty until glued: it then holds at least the first piece's x > 0 bytes
  size_t x = 0;
  // Appends one fgets() piece as strlen() sees it; false when fgets() read nothing.
  const auto append = [&](absl::string_view piece) {
    if (piece.empty()) return false;
    const void* nul = std::memchr(piece.data(), 0, piece.size());
    const size_t keep =
        nul ? static_cast<size_t>(static_cast<const char*>(nul) - piece.data()) : piece.size();
    if (glued.empty() && x > 0 && keep > 0 && view + x != piece.data()) glued.assign(view, x);
    if (!glued.empty()) {
      glued.append(piece.data(), keep);
    } else if (x == 0) {
      view = piece.data();
    }
    x += keep;
    return true;
  };
  // bmake tests buf[x - 1] == '\n' with x counted from the buffer's start: for an empty
  // string after `offset`, the '\n' of the line before.
  const auto ends_line = [&]() {
    if (x == 0) return offset > 0;
    return (glued.empty() ? view[x - 1] : glued.back()) == '\n';
  };
  append(Fgets(bufsz_ - offset));
  while (!ends_line()) {
    size_t grown = round_up(data_.size() / 2);
    if (grown <= bufsz_) grown = round_up(data_.size());
    if (grown <= bufsz_) break;  // truncated
    notes_.push_back(absl::StrCat("growing buffer ", bufsz_, " -> ", grown));
    bufsz_ = grown;
    if (!append(Fgets(bufsz_ - offset - x))) break;  // truncated
  }
  line->read_length = x;
  line->complete = ends_line();
  const size_t length = x > 0 && line->complete ? x - 1 : x;
  if (!glued.empty()) {
    glued_.push_back(std::move(glued));
    line->text = absl::string_view(glued_.back().data(), length);
  } else {
    line->text = absl::string_view(view, length);
  }
  return offset + x > 0;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
