// File: filemon/meta/line_reader.h (internal to //filemon/meta)
//
// The lines of a .meta as bmake's meta_oodate() reads them: its `fgetLine()` into a buffer of
// 64 KiB that grows, and `strlen()` on the result (bmake_meta.md §2.1). For a file without a
// NUL byte that is plain line splitting; a NUL cuts a line short, and in a file over 64 KiB
// glues the next line onto the text before the NUL. Whenever bmake grows its buffer (for such
// a line, a line that does not fit, or a last line without its '\n' in a file larger than
// the buffer) the reader notes bmake's -dM line `growing buffer A -> B`.
//
// Example:
//   LineReader reader(data);
//   MetaLine line;
//   while (reader.Next(&line)) { ... line.text ... line.complete ... }

#ifndef FILEMON_META_LINE_READER_H_
#define FILEMON_META_LINE_READER_H_

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstddef>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace filemon {
namespace meta {
namespace internal {

// bmake's first line buffer: 8 * BUFSIZ. A line of this many bytes or more, its '\n'
// included, does not fit it.
constexpr size_t kBmakeFirstBuffer = 8 * 8192;

// One physical line as bmake's fgetLine() + strlen() see it.
struct MetaLine {
  absl::string_view text;  // without the '\n'; cut at a NUL byte (bmake's strings end there)
  // Bytes up to the NUL or through the '\n' (bmake's `x`, printed in "line truncated at X").
  size_t read_length = 0;
  bool complete = false;  // ended with '\n' (bmake: buf[x - 1] == '\n')
  size_t start = 0;       // offset of the line in the data
};

// The first '\n' in [p, end), or null. Inline, 16 bytes a step: a filemon line is short, and a
// call to memchr costs as much as its search.
inline const char* FindNewline(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  for (; end - p >= 16; p += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, nl)));
    if (mask != 0) return p + __builtin_ctz(mask);
  }
#endif
  return static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
}

// Views returned in a MetaLine point into the data, or (for a line glued across a NUL) into
// the reader: valid as long as both.
class LineReader {
 public:
  // Whether the data holds a NUL byte (bmake's strings end there), when the caller knows.
  enum class Nul { kUnknown, kNone };
  explicit LineReader(absl::string_view data, Nul nul = Nul::kUnknown)
      : data_(data),
        has_nul_(nul == Nul::kUnknown && std::memchr(data.data(), 0, data.size()) != nullptr) {}

  // The next line. False at the end, and (as bmake's `fgetLine(...) > 0` test) when bmake's
  // `x` is 0 (a line starting with a NUL). `offset`: bmake reads the line into its buffer
  // after that many bytes of earlier lines, the last ending in '\n' (the lines of a
  // multi-line command); a line starting with a NUL is then complete and empty.
  bool Next(MetaLine* line, size_t offset = 0) {
    if (pos_ >= data_.size()) return false;
    const char* start = data_.data() + pos_;
    const size_t left = data_.size() - pos_;
    const char* nl = FindNewline(start, start + left);
    const size_t len = nl ? static_cast<size_t>(nl - start) : left;
    line->start = pos_;
    // bmake's buffer holds at most bufsz_ - 1 bytes: a line of bufsz_ - 1 bytes or more with
    // its '\n' does not fit.
    if (nl == nullptr || offset + len + 2 > bufsz_ ||
        (has_nul_ && std::memchr(start, 0, len) != nullptr)) {
      return NextAsFgetLine(line, offset);
    }
    pos_ += len + (nl ? 1 : 0);
    line->text = absl::string_view(start, len);
    line->read_length = len + (nl ? 1 : 0);
    line->complete = nl != nullptr;
    return true;
  }
  // The offset of the next line; Seek() to a line's start reads from there.
  size_t pos() const { return pos_; }
  void Seek(size_t pos) { pos_ = pos; }
  absl::string_view data() const { return data_; }
  // bmake's -dM messages of the lines read since the last call ("growing buffer A -> B").
  std::vector<std::string> TakeNotes() { return std::exchange(notes_, {}); }
  bool has_nul() const { return has_nul_; }
  bool has_notes() const { return !notes_.empty(); }

 private:
  absl::string_view Fgets(size_t room);
  bool NextAsFgetLine(MetaLine* line, size_t offset);

  absl::string_view data_;
  bool has_nul_;
  size_t pos_ = 0;
  size_t bufsz_ = kBmakeFirstBuffer;  // bmake's buffer size, which only grows
  std::deque<std::string> glued_;     // texts of lines with a NUL (stable while the reader lives)
  std::vector<std::string> notes_;
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_LINE_READER_H_
