// File: filemon/core/log_reader.h
//
// Reads a log (or any line-oriented text) from a file descriptor in bounded pieces of whole
// lines, for `Parser::Continue()`: memory stays bounded whatever the input (a pipe, a FIFO,
// /dev/zero, a log of any size), and a line longer than `kMaxLineBytes` is an error that says
// so instead of a buffer that grows without end.
//
// Example:
//   filemon::LogReader reader(fd, "build.log");
//   filemon::ParserOptions options;
//   options.filename = "build.log";
//   filemon::Parser parser(absl::string_view(), options);
//   for (;;) {
//     absl::StatusOr<absl::string_view> piece = reader.Next();
//     if (!piece.ok()) return piece.status();
//     if (piece->empty()) break;                   // end of input
//     parser.Continue(*piece);
//     while (parser.Next(&record)) { ... }
//     if (!parser.ok()) return parser.status();    // strict: the first bad line, at once
//   }

#ifndef FILEMON_CORE_LOG_READER_H_
#define FILEMON_CORE_LOG_READER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace filemon {

// The longest line a streamed reader holds: 1 MiB. The kernel's longest record is about
// 2 * MAXPATHLEN + 100 bytes (8 KiB on FreeBSD), so only input that is no log gets near it.
inline constexpr size_t kMaxLineBytes = size_t{1} << 20;

// Not thread-safe. Does not own `fd`.
class LogReader {
 public:
  // `name` is used in error messages.
  LogReader(int fd, std::string name, size_t max_line = kMaxLineBytes);
  LogReader(const LogReader&) = delete;  // owns its buffer
  LogReader& operator=(const LogReader&) = delete;

  // The next piece: whole lines, each ending in '\n', except at the end of the input, where
  // the last piece may be a line without its newline (a crash tail). Empty at end of input.
  // Valid until the next call, except that the last piece stays valid once Next() returned
  // the empty end of input (so a parser's `tail()` can be read then). Errors: read(2) failures
  // ("read(NAME): ..."); a line longer than `max_line` ("NAME: line N is longer than the limit of
  // 1048576 bytes").
  absl::StatusOr<absl::string_view> Next();

 private:
  int fd_;
  std::string name_;
  size_t capacity_;
  std::unique_ptr<char[]> buffer_;
  size_t begin_ = 0;  // start of the bytes not returned yet
  size_t end_ = 0;    // end of the bytes read
  size_t lines_ = 0;  // lines returned so far (for the error's line number)
  bool eof_ = false;
};

// The error for line `line` of `name` being longer than `limit` bytes (ResourceExhausted:
// "NAME: line N is longer than the limit of LIMIT bytes"), as `LogReader` returns it; for
// other readers of logs, so that the same input fails alike wherever it is read.
absl::Status LineTooLongError(absl::string_view name, size_t line, size_t limit);

// Reads all of `fd` into `*out` (for readers that need the whole text at once), failing as
// `LogReader` does on a line longer than `kMaxLineBytes`, and on input longer than
// `max_total` bytes ("NAME: longer than the limit of N bytes for input that is not a regular
// file").
absl::Status ReadWholeStream(int fd, absl::string_view name, size_t max_total, std::string* out);

}  // namespace filemon

#endif  // FILEMON_CORE_LOG_READER_H_
