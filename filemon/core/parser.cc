#include "filemon/core/parser.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/core/log_format_internal.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record.h"

namespace filemon {
namespace {

namespace lf = log_format_internal;

// How a line's letter is parsed.
enum class Shape : uint8_t { kNone, kOnePath, kTwoPaths, kFork, kExit, kVersion, kComment };

struct LetterInfo {
  Shape shape = Shape::kNone;
  RecordKind kind = RecordKind::kComment;
};

struct LetterTable {
  LetterInfo info[256];
  constexpr LetterTable() {
    info['A'] = {Shape::kOnePath, RecordKind::kAt};
    info['C'] = {Shape::kOnePath, RecordKind::kChdir};
    info['D'] = {Shape::kOnePath, RecordKind::kDelete};
    info['E'] = {Shape::kOnePath, RecordKind::kExec};
    info['N'] = {Shape::kOnePath, RecordKind::kNotFound};
    info['R'] = {Shape::kOnePath, RecordKind::kRead};
    info['S'] = {Shape::kOnePath, RecordKind::kStat};
    info['W'] = {Shape::kOnePath, RecordKind::kWrite};
    info['L'] = {Shape::kTwoPaths, RecordKind::kLink};
    info['M'] = {Shape::kTwoPaths, RecordKind::kMove};
    info['F'] = {Shape::kFork, RecordKind::kFork};
    info['X'] = {Shape::kExit, RecordKind::kExit};
    info['V'] = {Shape::kVersion, RecordKind::kVersion};
    info['#'] = {Shape::kComment, RecordKind::kComment};
  }
};
constexpr LetterTable kLetters;

// Parses an optional '-' and 1..19 decimal digits at `p` (before `end`) into `*out`. Returns
// the position after the number, or nullptr if there is no number or it overflows int64.
inline const char* ParseInt(const char* p, const char* end, int64_t* out) {
  bool negative = false;
  if (p < end && *p == '-') {
    negative = true;
    ++p;
  }
  const char* start = p;
  const char* limit =
      end - p > static_cast<ptrdiff_t>(lf::kMaxInt64Digits) ? p + lf::kMaxInt64Digits : end;
  uint64_t v = 0;
  while (p < limit) {
    const unsigned d = static_cast<unsigned char>(*p) - '0';
    if (d > 9) break;
    v = v * 10 + d;
    ++p;
  }
  if (p == start) return nullptr;
  if (p < end && static_cast<unsigned>(static_cast<unsigned char>(*p) - '0') <= 9) {
    return nullptr;  // a 20th digit
  }
  const uint64_t max = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (v > max) return nullptr;
  *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return p;
}

// Whether `s` starts with `prefix`.
inline bool StartsWith(absl::string_view s, absl::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// Parses the whole of `s` as one integer.
inline bool ParseWholeInt(absl::string_view s, int64_t* out) {
  const char* end = s.data() + s.size();
  return ParseInt(s.data(), end, out) == end;
}

// Parses the whole of `s` as "S.UUUUUU" (seconds, exactly six digits of microseconds): the
// canonical form, so that the writer reproduces it.
bool ParseTime(absl::string_view s, int64_t* seconds, int64_t* micros) {
  const char* end = s.data() + s.size();
  const char* p = ParseInt(s.data(), end, seconds);
  if (p == nullptr || *seconds < 0 || s[0] == '-' || end - p != 7 || *p != '.') return false;
  ++p;
  int64_t us = 0;
  for (int i = 0; i < 6; ++i) {
    const unsigned d = static_cast<unsigned char>(p[i]) - '0';
    if (d > 9) return false;
    us = us * 10 + d;
  }
  *micros = us;
  return true;
}

// Reverses the escape rule (log_format.md) of `s` into `*out`. Returns the 0-based offset of a
// bad escape in `s`, or -1.
ptrdiff_t Unescape(absl::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != lf::kEscape) {
      out->push_back(c);
      continue;
    }
    if (i + 1 == s.size()) return static_cast<ptrdiff_t>(i);
    const char e = s[++i];
    if (e == lf::kEscape || e == '\'') {
      out->push_back(e);
    } else if (e == lf::kEscapedNewline) {
      out->push_back('\n');
    } else {
      return static_cast<ptrdiff_t>(i - 1);
    }
  }
  return -1;
}

}  // namespace

absl::string_view LogVariantName(LogVariant variant) {
  switch (variant) {
    case LogVariant::kUnknown:
      return "unknown";
    case LogVariant::kFreeBsdV5:
      return "freebsd-v5";
    case LogVariant::kFreeBsd10:
      return "freebsd-10";
    case LogVariant::kFreeBsd9:
      return "freebsd-9";
    case LogVariant::kNetBsdKernel:
      return "netbsd-kernel";
    case LogVariant::kKtrace:
      return "ktrace";
    case LogVariant::kJuniperLinux:
      return "juniper-linux";
  }
  return "unknown";
}

bool KeepsTreeOrder(LogVariant variant) {
  return variant == LogVariant::kFreeBsdV5 || variant == LogVariant::kFreeBsd10 ||
         variant == LogVariant::kUnknown;
}

Parser::Parser(absl::string_view data, ParserOptions options) : data_(data), options_(options) {}

void Parser::Continue(absl::string_view next) {
  piece_offset_ += data_.size();
  data_ = next;
  pos_ = 0;
  line_start_ = 0;
}

bool Parser::Next(Record* record) {
  if (!status_.ok()) return false;
  const char* const base = data_.data();
  const size_t size = data_.size();
  while (pos_ < size) {
    const char* begin = base + pos_;
    const char* nl = static_cast<const char*>(std::memchr(begin, '\n', size - pos_));
    line_start_ = pos_;
    ++line_;
    bool last = false;
    size_t len;
    if (nl != nullptr) {
      len = static_cast<size_t>(nl - begin);
      pos_ += len + 1;
    } else {
      len = size - pos_;
      pos_ = size;
      truncated_ = true;
      last = true;
      if (options_.unterminated_last_line == UnterminatedLine::kCrashTail) {
        tail_ = absl::string_view(begin, len);
        return false;
      }
    }
    switch (ParseLine(absl::string_view(begin, len), record)) {
      case LineResult::kRecord:
        return true;
      case LineResult::kMarker:
        continue;
      case LineResult::kError:
        // A cut last line is a crash tail, not a malformed log: `truncated()` reports it.
        if (last) return false;
        if (!Error(error_column_, error_message_)) return false;
        continue;
    }
  }
  return false;
}

Parser::LineResult Parser::ParseLine(absl::string_view line, Record* record) {
  const bool escaped = escape_next_;
  escape_next_ = false;
  if (line.empty()) return Fail(1, "expected a record letter (one of ACDEFLMNRSWXV) or '#'");
  const LetterInfo info = kLetters.info[static_cast<unsigned char>(line[0])];
  if (info.shape == Shape::kNone) {
    return Fail(1, "expected a record letter (one of ACDEFLMNRSWXV) or '#'");
  }
  if (info.shape == Shape::kComment) return ParseComment(line, escaped, record);
  if (line.size() < 2 || line[1] != ' ') return Fail(2, "expected ' ' after the record letter");
  const char* const start = line.data();
  const char* const end = start + line.size();
  *record = Record();
  record->kind = info.kind;
  if (saw_bye_) record_after_bye_ = true;

  if (info.shape == Shape::kVersion) {
    if (ParseInt(start + 2, end, &record->version) != end) {
      return Fail(3, "expected a version number to end the line");
    }
    version_ = record->version;
    return LineResult::kRecord;
  }

  const char* p = ParseInt(start + 2, end, &record->pid);
  if (p == nullptr) return Fail(3, "expected a pid");
  if (p == end || *p != ' ') return Fail(p - start + 1, "expected ' ' after the pid");
  ++p;

  switch (info.shape) {
    case Shape::kOnePath: {
      absl::string_view path(p, static_cast<size_t>(end - p));
      if (escaped) {
        const ptrdiff_t bad = Unescape(path, &scratch_);
        if (bad >= 0) return Fail(p - start + bad + 1, "expected an escape \\\\, \\n or \\'");
        path = scratch_;
      }
      record->path = path;
      if (info.kind == RecordKind::kStat) saw_stat_ = true;
      return LineResult::kRecord;
    }
    case Shape::kTwoPaths:
      return ParseTwoPaths(line, p, escaped, record);
    case Shape::kFork: {
      const char* q = ParseInt(p, end, &record->child_pid);
      if (q == nullptr) return Fail(p - start + 1, "expected the child pid");
      if (q != end) return Fail(q - start + 1, "expected the end of the line after the child pid");
      return LineResult::kRecord;
    }
    case Shape::kExit: {
      const char* q = ParseInt(p, end, &record->status);
      if (q == nullptr) return Fail(p - start + 1, "expected the exit status");
      if (q == end) {
        saw_exit2_ = true;
        return LineResult::kRecord;
      }
      if (*q != ' ') return Fail(q - start + 1, "expected ' ' or the end of the line");
      ++q;
      const char* r = ParseInt(q, end, &record->signal);
      if (r == nullptr) return Fail(q - start + 1, "expected the signal number");
      if (r != end) return Fail(r - start + 1, "expected the end of the line after the signal");
      record->has_signal = true;
      saw_exit3_ = true;
      return LineResult::kRecord;
    }
    default:
      return Fail(1, "expected a record letter");
  }
}

Parser::LineResult Parser::ParseTwoPaths(absl::string_view line, const char* p, bool escaped,
                                         Record* record) {
  const char* const start = line.data();
  const char* const end = start + line.size();
  if (p == end || *p != '\'') return Fail(p - start + 1, "expected ' to open the first path");
  ++p;
  absl::string_view first, second;
  if (!escaped) {
    // "'from' 'to'": the first "' '" separates the paths (unambiguous for what the writer
    // writes, which escapes quotes in L/M paths); the line must end with '.
    if (end - p < 4 || end[-1] != '\'') {
      return Fail(line.size() + 1, "expected ' to close the second path");
    }
    const char* sep = p;
    const char* const last = end - 1;  // the closing quote
    for (;;) {
      sep = static_cast<const char*>(std::memchr(sep, '\'', static_cast<size_t>(last - sep)));
      if (sep == nullptr || last - sep < 3) {
        return Fail(p - start + 1, "expected \"' '\" between the two paths");
      }
      if (sep[1] == ' ' && sep[2] == '\'') break;
      ++sep;
    }
    first = absl::string_view(p, static_cast<size_t>(sep - p));
    second = absl::string_view(sep + 3, static_cast<size_t>(last - (sep + 3)));
  } else {
    // Escaped paths hold no bare quote: the first unescaped ' closes the first path.
    const char* q = p;
    while (q < end && *q != '\'') q += (*q == lf::kEscape && q + 1 < end) ? 2 : 1;
    if (q + 2 >= end || q[1] != ' ' || q[2] != '\'') {
      return Fail(q - start + 1, "expected \"' '\" between the two paths");
    }
    const char* r = q + 3;
    const char* s = r;
    while (s < end && *s != '\'') s += (*s == lf::kEscape && s + 1 < end) ? 2 : 1;
    if (s >= end) return Fail(line.size() + 1, "expected ' to close the second path");
    if (s + 1 != end) return Fail(s - start + 2, "expected the end of the line after the path");
    ptrdiff_t bad = Unescape(absl::string_view(p, static_cast<size_t>(q - p)), &scratch_);
    if (bad >= 0) return Fail(p - start + bad + 1, "expected an escape \\\\, \\n or \\'");
    bad = Unescape(absl::string_view(r, static_cast<size_t>(s - r)), &scratch2_);
    if (bad >= 0) return Fail(r - start + bad + 1, "expected an escape \\\\, \\n or \\'");
    first = scratch_;
    second = scratch2_;
  }
  record->path = first;
  record->path2 = second;
  return LineResult::kRecord;
}

Parser::LineResult Parser::ParseComment(absl::string_view line, bool escaped, Record* record) {
  *record = Record();
  absl::string_view text = line.substr(1);
  if (escaped) {
    const ptrdiff_t bad = Unescape(text, &scratch_);
    if (bad >= 0) return Fail(bad + 2, "expected an escape \\\\, \\n or \\'");
    record->kind = RecordKind::kComment;
    record->path = scratch_;
    return LineResult::kRecord;
  }
  if (text == lf::kEscapeMarkerText) {
    escape_next_ = true;
    return LineResult::kMarker;
  }
  if (saw_bye_) record_after_bye_ = true;
  // The header and footer forms; any other text is a plain comment.
  if (StartsWith(text, lf::kFilemonVersion) || StartsWith(text, lf::kBuildmonVersion)) {
    const bool buildmon = text[1] == 'b';
    const size_t prefix = buildmon ? lf::kBuildmonVersion.size() : lf::kFilemonVersion.size();
    if (ParseWholeInt(text.substr(prefix), &record->version)) {
      record->kind = RecordKind::kHeaderVersion;
      record->path = text.substr(1, buildmon ? 8 : 7);
      header_version_ = record->version;
      saw_header_ = true;
      if (buildmon) saw_buildmon_ = true;
      return LineResult::kRecord;
    }
  } else if (StartsWith(text, lf::kTargetPid)) {
    if (ParseWholeInt(text.substr(lf::kTargetPid.size()), &record->pid)) {
      record->kind = RecordKind::kTargetPid;
      return LineResult::kRecord;
    }
  } else if (StartsWith(text, lf::kStart)) {
    if (ParseTime(text.substr(lf::kStart.size()), &record->seconds, &record->microseconds)) {
      record->kind = RecordKind::kStart;
      saw_start_ = true;
      return LineResult::kRecord;
    }
  } else if (StartsWith(text, lf::kStop)) {
    if (ParseTime(text.substr(lf::kStop.size()), &record->seconds, &record->microseconds)) {
      record->kind = RecordKind::kStop;
      return LineResult::kRecord;
    }
  } else if (text == lf::kByeBye) {
    record->kind = RecordKind::kByeBye;
    saw_bye_ = true;
    record_after_bye_ = false;
    ++bye_count_;
    return LineResult::kRecord;
  }
  record->kind = RecordKind::kComment;
  record->pid = 0;
  record->version = 0;
  record->seconds = 0;
  record->microseconds = 0;
  record->path = text;
  return LineResult::kRecord;
}

Parser::LineResult Parser::Fail(ptrdiff_t column, const char* message) {
  error_column_ = static_cast<size_t>(column);
  error_message_ = message;
  return LineResult::kError;
}

bool Parser::Error(size_t column, absl::string_view message) {
  absl::Status error = absl::InvalidArgumentError(
      absl::StrCat(options_.filename, ":", line_, ":", column, ": ", message));
  if (options_.strict) {
    status_ = std::move(error);
    return false;
  }
  if (skipped_lines_ == 0) first_skipped_ = std::move(error);
  ++skipped_lines_;
  return true;
}

LogVariant Parser::variant() const {
  if (saw_buildmon_) return LogVariant::kJuniperLinux;
  const int64_t version = version_ != 0 ? version_ : header_version_;
  if (saw_start_) {
    if (saw_stat_ || version == 4) return LogVariant::kFreeBsd9;
    if (saw_exit2_ && !saw_exit3_) return LogVariant::kFreeBsd10;
    return LogVariant::kFreeBsdV5;
  }
  if (saw_stat_) return LogVariant::kFreeBsd9;
  if (saw_header_ || version_ != 0) {
    if (saw_exit3_) return LogVariant::kFreeBsdV5;
    // bmake's ktrace filemon always says version 4 in both places and stops at the target's
    // "# Bye bye"; a NetBSD kernel log may say another version, disagree with itself, or go
    // on after a "# Bye bye" (one per traced shell). A one-command NetBSD v4 kernel log is
    // byte-identical to a ktrace one and is reported as ktrace.
    if (header_version_ == 4 && version_ == 4 && bye_count_ <= 1 && !record_after_bye_) {
      return LogVariant::kKtrace;
    }
    return LogVariant::kNetBsdKernel;
  }
  if (saw_exit3_) return LogVariant::kFreeBsdV5;
  return LogVariant::kUnknown;
}

namespace {

// Reads `fd` to end of file into a malloc'd buffer (*data, *size). Returns 0 or the errno.
int ReadToEnd(int fd, char** data, size_t* size) {
  size_t capacity = 64 * 1024, used = 0;
  char* buffer = static_cast<char*>(std::malloc(capacity));
  if (buffer == nullptr) return ENOMEM;
  for (;;) {
    if (used == capacity) {
      char* bigger = static_cast<char*>(std::realloc(buffer, capacity * 2));
      if (bigger == nullptr) {
        std::free(buffer);
        return ENOMEM;
      }
      buffer = bigger;
      capacity *= 2;
    }
    const ssize_t n = ::read(fd, buffer + used, capacity - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      std::free(buffer);
      return e;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  *data = buffer;
  *size = used;
  return 0;
}

}  // namespace

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  OwnedFd fd;
  do {
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  } while (!fd.valid() && errno == EINTR);
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open(", path, ")"));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fstat(", path, ")"));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::ErrnoToStatus(EISDIR, absl::StrCat("read(", path, ")"));
  }
  if (!S_ISREG(st.st_mode) || st.st_size == 0) {
    // Pipes, terminals, and files whose size stat(2) does not know (/proc): read them.
    char* data = nullptr;
    size_t size = 0;
    const int e = ReadToEnd(fd.get(), &data, &size);
    if (e != 0) return absl::ErrnoToStatus(e, absl::StrCat("read(", path, ")"));
    return MappedFile(data, size, /*mapped=*/false);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (map == MAP_FAILED) return absl::ErrnoToStatus(errno, absl::StrCat("mmap(", path, ")"));
  return MappedFile(static_cast<const char*>(map), size, /*mapped=*/true);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

MappedFile::~MappedFile() { Release(); }

void MappedFile::Release() {
  if (data_ == nullptr) return;
  if (mapped_) {
    ::munmap(const_cast<char*>(data_), size_);
  } else {
    std::free(const_cast<char*>(data_));
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace filemon
