// File: filemon/meta/verdict.h (internal to //filemon/meta)
//
// The `Decision` of one check as it is built line by line: bmake's messages (bmake_meta.md §3,
// one method each, with the `F: N: ` or `F:N: ` prefix of the `Compat`), the first reason to
// rebuild and its line (bmake stops there; later messages are still kept), and the .meta line
// being read.

#ifndef FILEMON_META_VERDICT_H_
#define FILEMON_META_VERDICT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "filemon/meta/check_options.h"
#include "filemon/meta/line_reader.h"

namespace filemon {
namespace meta {
namespace internal {

class Verdict {
 public:
  // `*d` receives the decision; `meta_path` names the .meta in messages. Both outlive this.
  Verdict(Decision* d, absl::string_view meta_path, Compat compat)
      : d_(d), meta_path_(meta_path), compat_(compat) {}

  // Whether a reason to rebuild was found (bmake then reads no further).
  bool out_of_date() const { return out_of_date_; }
  // The .meta line being read (1 for the first; 0 before it).
  size_t line() const { return line_; }
  void set_line(size_t line) { line_ = line; }
  // reader->Next(line, offset); a line read is counted, and the reader's -dM notes become
  // messages.
  bool ReadLine(LineReader* reader, MetaLine* line, size_t offset = 0);
  // The reader's -dM notes, as messages (ReadLine does it for its line).
  void TakeNotes(LineReader* reader);

  // A line without its '\n': bmake's warning, and out of date (kTruncated). False for a
  // complete line.
  bool Truncated(const MetaLine& line) { return !line.complete && ReportTruncated(line); }
  void Malformed();
  // `path` (a read) is newer than the target.
  void Newer(absl::string_view path);
  void CmdMoreInMeta();
  void CmdExtraNow();
  // Informational: a current command using .OODATE is not compared.
  void CannotCompare();
  // Informational: a command continuation line ended without its '\n' after `read` bytes.
  void ContinuationTruncated(size_t read);
  // The recorded command `old` differs from `now`: out of date, or (ignore-cmd) the message
  // alone.
  enum class CmdChange { kOutOfDate, kMessageOnly };
  void CmdChanged(absl::string_view old, absl::string_view now, CmdChange change);
  // The CWD record says `old`; bmake prints `curdir`.
  void CwdChanged(absl::string_view old, absl::string_view curdir);
  // After the loop (no line): `first` of the missing files. Noted even when out of date.
  void MissingFiles(absl::string_view first);
  // REQUIRES (this one and the next): not out of date.
  void MissingFilemon();
  // Beyond bmake: `path`, probed absent at `line`, exists now.
  void Appeared(size_t line, absl::string_view path);

 private:
  std::string Prefix(size_t line) const;
  void Message(std::string m) { d_->messages.push_back(std::move(m)); }
  // The first reason wins; it is recorded with the current line.
  void OutOfDate(Reason reason);
  bool ReportTruncated(const MetaLine& line);

  Decision* d_;
  absl::string_view meta_path_;
  Compat compat_;
  bool out_of_date_ = false;
  size_t line_ = 0;
};

}  // namespace internal
}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_VERDICT_H_
