#include "filemon/core/writer.h"

#include <errno.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "filemon/core/log_format_internal.h"
#include "filemon/core/record.h"

namespace filemon {
namespace {

namespace lf = log_format_internal;

// "00" "01" ... "99": two digits per table lookup halves the divisions.
constexpr char kDigitPairs[] =
    "00010203040506070809"
    "10111213141516171819"
    "20212223242526272829"
    "30313233343536373839"
    "40414243444546474849"
    "50515253545556575859"
    "60616263646566676869"
    "70717273747576777879"
    "80818283848586878889"
    "90919293949596979899";

inline size_t CountDigits(uint64_t v) {
  size_t n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

// Writes `v` in decimal at `p`; returns the end. At most 20 bytes.
inline char* PutUnsigned(uint64_t v, char* p) {
  const size_t n = CountDigits(v);
  char* q = p + n;
  while (v >= 100) {
    const unsigned r = static_cast<unsigned>(v % 100);
    v /= 100;
    q -= 2;
    std::memcpy(q, kDigitPairs + 2 * r, 2);
  }
  if (v >= 10) {
    std::memcpy(q - 2, kDigitPairs + 2 * v, 2);
  } else {
    q[-1] = static_cast<char>('0' + v);
  }
  return p + n;
}

inline char* PutInt(int64_t v, char* p) {
  if (v < 0) {
    *p++ = '-';
    return PutUnsigned(0 - static_cast<uint64_t>(v), p);
  }
  return PutUnsigned(static_cast<uint64_t>(v), p);
}

inline char* Put(absl::string_view s, char* p) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// "%06ju" of the microseconds (clamped to 0..999999, as a timeval's are).
inline char* PutMicros(int64_t us, char* p) {
  if (us < 0) us = 0;
  if (us > 999999) us = 999999;
  const unsigned u = static_cast<unsigned>(us);
  std::memcpy(p, kDigitPairs + 2 * (u / 10000), 2);
  std::memcpy(p + 2, kDigitPairs + 2 * (u / 100 % 100), 2);
  std::memcpy(p + 4, kDigitPairs + 2 * (u % 100), 2);
  return p + 6;
}

// Copies `path` escaped (log_format.md): '\\' -> "\\\\", '\n' -> "\\n", and in L/M paths
// '\'' -> "\\'". At most 2 * path.size() bytes.
char* PutEscaped(absl::string_view path, bool quote, char* p) {
  for (char c : path) {
    if (c == lf::kEscape) {
      *p++ = lf::kEscape;
      *p++ = lf::kEscape;
    } else if (c == '\n') {
      *p++ = lf::kEscape;
      *p++ = lf::kEscapedNewline;
    } else if (c == '\'' && quote) {
      *p++ = lf::kEscape;
      *p++ = '\'';
    } else {
      *p++ = c;
    }
  }
  return p;
}

inline bool Contains(absl::string_view s, char c) {
  return !s.empty() && std::memchr(s.data(), c, s.size()) != nullptr;
}

// A comment whose text the parser would take for the escape marker or a header/footer line
// (e.g. " Start 1.000000"): written escaped, it parses back as a plain comment.
bool CommentReadsAsOtherKind(absl::string_view text) {
  auto starts = [text](absl::string_view prefix) {
    return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
  };
  return text == lf::kEscapeMarkerText || text == lf::kByeBye || starts(lf::kFilemonVersion) ||
         starts(lf::kBuildmonVersion) || starts(lf::kTargetPid) || starts(lf::kStart) ||
         starts(lf::kStop);
}

// Whether `record` cannot be written faithfully without the escape rule.
inline bool NeedsEscape(const Record& record) {
  switch (record.kind) {
    case RecordKind::kLink:
    case RecordKind::kMove:
      return Contains(record.path, '\n') || Contains(record.path2, '\n') ||
             Contains(record.path, '\'') || Contains(record.path2, '\'');
    case RecordKind::kComment:
      return Contains(record.path, '\n') || CommentReadsAsOtherKind(record.path);
    case RecordKind::kFork:
    case RecordKind::kExit:
    case RecordKind::kVersion:
    case RecordKind::kHeaderVersion:
    case RecordKind::kTargetPid:
    case RecordKind::kStart:
    case RecordKind::kStop:
    case RecordKind::kByeBye:
      return false;
    default:
      return Contains(record.path, '\n');
  }
}

// "X pid " style prefix: letter, space, pid, space.
inline char* PutPrefix(char letter, int64_t pid, char* p) {
  *p++ = letter;
  *p++ = ' ';
  p = PutInt(pid, p);
  *p++ = ' ';
  return p;
}

char* PutTime(absl::string_view prefix, const Record& record, char* p) {
  *p++ = '#';
  p = Put(prefix, p);
  p = PutUnsigned(record.seconds < 0 ? 0 : static_cast<uint64_t>(record.seconds), p);
  *p++ = '.';
  return PutMicros(record.microseconds, p);
}

// Writes all `size` bytes, retrying EINTR and short writes. Returns 0 or the errno.
int WriteAll(int fd, const char* p, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    // write(2) of a non-zero count returning 0: a full device, rather than spinning.
    if (n == 0) return ENOSPC;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

// The letters of the one-path kinds (A C D E R S W) by RecordKind value; 0 for the others.
constexpr char kOnePathLetter[] = {
    'A',  // kAt
    'C',  // kChdir
    'D',  // kDelete
    'E',  // kExec
    0,    // kFork
    0,    // kLink
    0,    // kMove
    'R',  // kRead
    'S',  // kStat
    'W',  // kWrite
};
static_assert(static_cast<int>(RecordKind::kWrite) + 1 == sizeof kOnePathLetter,
              "kOnePathLetter out of sync with RecordKind");

// Copies `s` to `p` and returns true if `s` holds no `c`; false otherwise (`p` then holds a
// partial copy). The copy and the check are one pass of 16 bytes per step (no branch per byte);
// without SSE2, memcpy and one memchr.
inline bool CopyWithout(absl::string_view s, char c, char* p) {
  const char* src = s.data();
  const size_t n = s.size();
#ifdef __SSE2__
  if (n >= 16) {
    const __m128i needle = _mm_set1_epi8(c);
    size_t i = 0;
    int found = 0;
    for (; i + 16 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), v);
      found |= _mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
    }
    if (i < n) {  // the last 16 bytes, overlapping what was copied
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p + n - 16), v);
      found |= _mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
    }
    return found == 0;
  }
#endif
  if (n == 0) return true;
  std::memcpy(p, src, n);
  return std::memchr(src, c, n) == nullptr;
}

}  // namespace

size_t MaxFormattedSize(const Record& record) {
  // Marker line + letter, blanks, three 20-byte integers, quotes, '\n', and each path doubled
  // by escaping in the worst case.
  return lf::kEscapeMarkerLine.size() + 1 + 96 + 2 * (record.path.size() + record.path2.size());
}

// A record of one or two paths (HasPath()), its paths escaped when `escape`.
static char* PutPathRecord(const Record& record, bool escape, char* p) {
  p = PutPrefix(RecordLetter(record.kind), record.pid, p);
  if (!HasTwoPaths(record.kind)) {
    return escape ? PutEscaped(record.path, false, p) : Put(record.path, p);
  }
  *p++ = '\'';
  p = escape ? PutEscaped(record.path, true, p) : Put(record.path, p);
  *p++ = '\'';
  *p++ = ' ';
  *p++ = '\'';
  p = escape ? PutEscaped(record.path2, true, p) : Put(record.path2, p);
  *p++ = '\'';
  return p;
}

// A record without a path: F, X, V and the comment lines.
static char* PutOtherRecord(const Record& record, bool escape, char* p) {
  switch (record.kind) {
    case RecordKind::kFork:
      p = PutPrefix('F', record.pid, p);
      return PutInt(record.child_pid, p);
    case RecordKind::kExit:
      p = PutPrefix('X', record.pid, p);
      p = PutInt(record.status, p);
      if (record.has_signal) {
        *p++ = ' ';
        p = PutInt(record.signal, p);
      }
      return p;
    case RecordKind::kVersion:
      *p++ = 'V';
      *p++ = ' ';
      return PutInt(record.version, p);
    case RecordKind::kHeaderVersion:
      *p++ = '#';
      p = Put(record.path == "buildmon" ? lf::kBuildmonVersion : lf::kFilemonVersion, p);
      return PutInt(record.version, p);
    case RecordKind::kTargetPid:
      *p++ = '#';
      p = Put(lf::kTargetPid, p);
      return PutInt(record.pid, p);
    case RecordKind::kStart:
      return PutTime(lf::kStart, record, p);
    case RecordKind::kStop:
      return PutTime(lf::kStop, record, p);
    case RecordKind::kByeBye:
      *p++ = '#';
      return Put(lf::kByeBye, p);
    case RecordKind::kComment:
      *p++ = '#';
      return escape ? PutEscaped(record.path, false, p) : Put(record.path, p);
    default:  // the path kinds: PutPathRecord()
      return p;
  }
}

// Every kind, escapes included: the path FormatRecord takes for all but unescaped one-path
// records.
static size_t FormatAnyRecord(const Record& record, char* out) {
  char* p = out;
  const bool escape = NeedsEscape(record);
  if (escape) {
    p = Put(lf::kEscapeMarkerLine, p);
    *p++ = '\n';
  }
  p = HasPath(record.kind) ? PutPathRecord(record, escape, p) : PutOtherRecord(record, escape, p);
  *p++ = '\n';
  return static_cast<size_t>(p - out);
}

size_t FormatRecord(const Record& record, char* out) {
  const unsigned kind = static_cast<unsigned>(record.kind);
  if (kind < sizeof kOnePathLetter && kOnePathLetter[kind] != 0) {
    char* p = out;
    *p++ = kOnePathLetter[kind];
    *p++ = ' ';
    p = PutInt(record.pid, p);
    *p++ = ' ';
    if (ABSL_PREDICT_TRUE(CopyWithout(record.path, '\n', p))) {
      p += record.path.size();
      *p++ = '\n';
      return static_cast<size_t>(p - out);
    }
  }
  return FormatAnyRecord(record, out);
}

void AppendRecord(const Record& record, std::string* out) {
  const size_t old = out->size();
  out->resize(old + MaxFormattedSize(record));
  out->resize(old + FormatRecord(record, &(*out)[old]));
}

Writer::Writer(int fd, WriterOptions options)
    : fd_(fd),
      owned_(options.own_fd ? fd : -1),
      options_(options),
      buffer_(new char[options.buffer_size]) {}

Writer::~Writer() { Close().IgnoreError(); }

void Writer::WriteHeader(int64_t target_pid, absl::Time start) {
  static_assert(kFilemonVersion == 5, "AddHeader (record_sink.cc) writes version 5");
  AddHeader(target_pid, start, this);
}

void Writer::WriteFooter(absl::Time stop) { AddFooter(stop, this); }

void Writer::Add(const Record& record) {
  if (!status_.ok()) return;
  if (closed_) {
    status_ = absl::FailedPreconditionError("filemon::Writer::Add after Close()");
    return;
  }
  const size_t need = MaxFormattedSize(record);
  if (options_.buffer_size - used_ < need) {
    if (!FlushBuffer()) return;
    if (options_.buffer_size < need) {
      // A record larger than the whole buffer (a path of ~32 KiB with a 64 KiB buffer): format
      // it on the heap, the one allocation the writer makes outside its constructor.
      std::string big;
      AppendRecord(record, &big);
      const int error_number = WriteAll(fd_, big.data(), big.size());
      if (error_number != 0) Fail(error_number, "write");
      return;
    }
  }
  used_ += FormatRecord(record, buffer_.get() + used_);
  if (options_.flush == FlushPolicy::kEveryRecord) FlushBuffer();
}

bool Writer::FlushBuffer() {
  if (!status_.ok()) return false;
  const int error_number = WriteAll(fd_, buffer_.get(), used_);
  used_ = 0;
  if (error_number != 0) {
    Fail(error_number, "write");
    return false;
  }
  return true;
}

void Writer::Fail(int error_number, absl::string_view operation) {
  if (!status_.ok()) return;
  status_ =
      absl::ErrnoToStatus(error_number, absl::StrCat(operation, "(fd ", fd_, ", filemon log)"));
}

absl::Status Writer::Flush() {
  if (!closed_) FlushBuffer();
  return status_;
}

absl::Status Writer::Close() {
  if (closed_) return status_;
  FlushBuffer();
  closed_ = true;
  // close(2) is not retried on EINTR: on Linux the descriptor is released either way.
  if (owned_.Close() != 0) Fail(errno, "close");
  return status_;
}

}  // namespace filemon
