#include "filemon/core/log_reader.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace filemon {
namespace {

// Reads into [buf, buf + size); returns the count (0 at end of input) or -errno.
ssize_t ReadSome(int fd, char* buf, size_t size) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, size);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

size_t CountLines(absl::string_view s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

absl::Status LineTooLongError(absl::string_view name, size_t line, size_t limit) {
  return absl::ResourceExhaustedError(
      absl::StrCat(name, ": line ", line, " is longer than the limit of ", limit, " bytes"));
}

LogReader::LogReader(int fd, std::string name, size_t max_line)
    : fd_(fd), name_(std::move(name)), capacity_(max_line + 1), buffer_(new char[capacity_]) {}

absl::StatusOr<absl::string_view> LogReader::Next() {
  if (eof_ && begin_ == end_) return absl::string_view();  // the last piece stays valid
  // Keep the unreturned start of a line at the front, then read until a '\n' arrives.
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size_t scanned = 0;  // bytes known to hold no '\n'
  while (!eof_) {
    if (end_ == capacity_) return LineTooLongError(name_, lines_ + 1, capacity_ - 1);
    const ssize_t n = ReadSome(fd_, buffer_.get() + end_, capacity_ - end_);
    if (n < 0) return absl::ErrnoToStatus(static_cast<int>(-n), absl::StrCat("read(", name_, ")"));
    if (n == 0) {
      eof_ = true;
      break;
    }
    end_ += static_cast<size_t>(n);
    const void* nl = memrchr(buffer_.get() + scanned, '\n', end_ - scanned);
    if (nl != nullptr) {
      const size_t cut = static_cast<size_t>(static_cast<const char*>(nl) - buffer_.get()) + 1;
      begin_ = cut;
      const absl::string_view piece(buffer_.get(), cut);
      lines_ += CountLines(piece);
      return piece;
    }
    scanned = end_;
  }
  // End of input: the rest, a line without its newline (or nothing).
  const absl::string_view rest(buffer_.get(), end_);
  begin_ = end_;
  return rest;
}

absl::Status ReadWholeStream(int fd, absl::string_view name, size_t max_total, std::string* out) {
  out->clear();
  size_t line_start = 0;  // start of the line being read
  size_t lines = 0;
  for (;;) {
    const size_t used = out->size();
    if (used > max_total) {
      return absl::ResourceExhaustedError(
          absl::StrCat(name, ": longer than the limit of ", max_total,
                       " bytes for input that is not a regular file"));
    }
    out->resize(std::max<size_t>(used + 64 * 1024, used * 3 / 2));
    const ssize_t n = ReadSome(fd, &(*out)[used], out->size() - used);
    if (n < 0) {
      out->resize(used);
      return absl::ErrnoToStatus(static_cast<int>(-n), absl::StrCat("read(", name, ")"));
    }
    out->resize(used + static_cast<size_t>(n));
    if (n == 0) return absl::OkStatus();
    const absl::string_view fresh(out->data() + used, static_cast<size_t>(n));
    const void* nl = memrchr(fresh.data(), '\n', fresh.size());
    if (nl != nullptr) {
      lines += CountLines(fresh);
      line_start = static_cast<size_t>(static_cast<const char*>(nl) - out->data()) + 1;
    }
    if (out->size() - line_start > kMaxLineBytes)
      return LineTooLongError(name, lines + 1, kMaxLineBytes);
  }
}

}  // namespace filemon
