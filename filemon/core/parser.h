// File: filemon/core/parser.h
//
// A zero-copy parser for filemon(4) logs of every known variant (FreeBSD v5, FreeBSD 9.x v4,
// FreeBSD 10.x, NetBSD kernel, bmake's ktrace filemon, the Juniper Linux "buildmon" port).
// It reads a buffer (or a `MappedFile`) and yields `Record`s whose views point into it.
//
// Example:
//   absl::StatusOr<filemon::MappedFile> file = filemon::MappedFile::Open("filemon.out");
//   if (!file.ok()) return file.status();
//   filemon::ParserOptions options;
//   options.filename = "filemon.out";
//   filemon::Parser parser(file->data(), options);
//   filemon::Record r;
//   while (parser.Next(&r)) { ... }
//   if (!parser.status().ok()) { ... "filemon.out:12:3: expected a pid" ... }

#ifndef FILEMON_CORE_PARSER_H_
#define FILEMON_CORE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/record.h"

namespace filemon {

// Which producer wrote a log, as far as the parser can tell from what it has seen so far.
enum class LogVariant : uint8_t {
  kUnknown,       // nothing decisive seen (e.g. records only)
  kFreeBsdV5,     // "# Start", V 5, "X pid status signal"
  kFreeBsd10,     // "# Start", "X pid status" (wait-encoded)
  kFreeBsd9,      // v4 with "# Start"/"S" records
  kNetBsdKernel,  // no "# Start"; "X pid status"; "# Bye bye" at the target's exit
  kKtrace,        // bmake's userland ktrace filemon: "# filemon version 4" and V 4, no Start
  kJuniperLinux,  // "# buildmon version N"
};
absl::string_view LogVariantName(LogVariant variant);
// Whether the variant's producer keeps the kernel's order of F and X (log_format.md section 6,
// tree_order.h): FreeBSD 10 and later write F in the fork event handler, before the child runs;
// FreeBSD 9.x, NetBSD, bmake's ktrace filemon and buildmon write it when the parent's fork call
// returns, so a child's records (a vfork child's above all) may come first. kUnknown (records
// only, nothing decisive) is taken as keeping it.
bool KeepsTreeOrder(LogVariant variant);

// What the parser makes of a last line without its '\n'.
enum class UnterminatedLine : uint8_t {
  // A crash tail (the writer died in the middle of the line): never returned as a record;
  // `tail()` keeps its raw text and `truncated()` is true.
  kCrashTail,
  // A record like any other line, for callers that hand over one line without its newline.
  kRecord,
};

struct ParserOptions {
  // Strict: the first line outside the grammar stops parsing with an error
  // "FILE:LINE:COL: what was expected". Lenient: bad lines are skipped and counted.
  bool strict = true;
  // Used in error messages.
  absl::string_view filename = "-";
  UnterminatedLine unterminated_last_line = UnterminatedLine::kCrashTail;
};

// Not thread-safe. `data` must outlive the parser and every record it returns.
class Parser {
 public:
  Parser(absl::string_view data, ParserOptions options);
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Return values:
  //  `true`                     - `*record` is the next record;
  //  `false` (when `ok()`)      - end of input;
  //  `false` (when `!ok()`)     - strict mode: a malformed line; see `status()`.
  // The record's views point into `data`, except escaped paths (log_format.md), which point
  // into the parser's scratch and are valid until the next call to `Next()`.
  bool Next(Record* record);

  // Goes on with the next piece of a log read in pieces (`LogReader`): every piece but the
  // last must end with '\n'. Records from earlier pieces become invalid; line numbers, the
  // variant and the other findings carry on, and `offset()` counts from the first piece.
  void Continue(absl::string_view next);

  bool ok() const { return status_.ok(); }
  absl::Status status() const { return status_; }

  // 1-based line of the record last returned (or of the error).
  size_t line() const { return line_; }
  // Byte offset of the start of the line last returned.
  size_t offset() const { return piece_offset_ + line_start_; }

  // Lenient mode: lines skipped as malformed, and the first such error (for reporting).
  size_t skipped_lines() const { return skipped_lines_; }
  const absl::Status& first_skipped_error() const { return first_skipped_; }

  // True once the parser has met a last line without its '\n' (a crash tail or a truncated
  // kernel record). Strict mode does not treat it as an error. With
  // `UnterminatedLine::kCrashTail` (the default) that line is not a record: `tail()` holds it.
  bool truncated() const { return truncated_; }
  // The raw text of the crash tail (empty if none); points into `data`.
  absl::string_view tail() const { return tail_; }

  // True once a footer "# Bye bye" was read: its writer finished the log. False (after
  // `Next()` returned false) for an empty input, a log cut at a line boundary, or a crash
  // tail: the log is incomplete, which is not malformed (no error in either mode).
  bool complete() const { return saw_bye_; }

  // The variant and version seen so far (final after `Next()` returned false).
  LogVariant variant() const;
  // The "V n" version, or 0 if none was seen.
  int64_t version() const { return version_; }

 private:
  enum class LineResult { kRecord, kMarker, kError };
  LineResult ParseLine(absl::string_view line, Record* record);
  LineResult ParseTwoPaths(absl::string_view line, const char* p, bool escaped, Record* record);
  LineResult ParseComment(absl::string_view line, bool escaped, Record* record);
  // Notes a malformed line (1-based column, static message) for `Next()` to report.
  LineResult Fail(ptrdiff_t column, const char* message);
  // Reports the noted error: strict mode stops (returns false), lenient mode counts it.
  bool Error(size_t column, absl::string_view message);

  absl::string_view data_;
  ParserOptions options_;
  size_t pos_ = 0;
  size_t piece_offset_ = 0;  // offset of `data_` in the whole input (`Continue`)
  size_t line_ = 0;
  size_t line_start_ = 0;
  size_t skipped_lines_ = 0;
  bool truncated_ = false;
  absl::string_view tail_;
  // The previous line was the escape marker: this record's paths are escaped.
  bool escape_next_ = false;
  size_t error_column_ = 0;
  const char* error_message_ = "";
  absl::Status status_;
  absl::Status first_skipped_;
  // Unescaped paths (path, path2) of the record last returned.
  std::string scratch_;
  std::string scratch2_;
  // What the variant detection has seen.
  int64_t version_ = 0;
  int64_t header_version_ = 0;
  bool saw_header_ = false;
  bool saw_buildmon_ = false;
  bool saw_start_ = false;
  bool saw_stat_ = false;
  bool saw_exit2_ = false;
  bool saw_exit3_ = false;
  bool saw_bye_ = false;
  bool record_after_bye_ = false;
  int bye_count_ = 0;
};

// The whole contents of a file, read-only: an mmap of a regular file, or for anything else
// (a pipe, a terminal, "/dev/stdin") a heap copy of everything read until end of file.
// Empty files give an empty view. Movable.
//
// Example:
//   absl::StatusOr<MappedFile> in = MappedFile::Open(name == "-" ? "/dev/stdin" : name);
class MappedFile {
 public:
  // Errors name the path and the failing call: "open(filemon.out): No such file or directory".
  static absl::StatusOr<MappedFile> Open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;  // owns the mapping
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::string_view data() const { return absl::string_view(data_, size_); }

 private:
  MappedFile(const char* data, size_t size, bool mapped)
      : data_(data), size_(size), mapped_(mapped) {}
  void Release();
  const char* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;  // munmap() rather than free()
};

}  // namespace filemon

#endif  // FILEMON_CORE_PARSER_H_
