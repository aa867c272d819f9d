#include "filemon/meta/verdict.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace filemon {
namespace meta {
namespace internal {

bool Verdict::ReadLine(LineReader* reader, MetaLine* line, size_t offset) {
  const bool more = reader->Next(line, offset);
  TakeNotes(reader);
  if (more) ++line_;
  return more;
}

void Verdict::TakeNotes(LineReader* reader) {
  if (!reader->has_notes()) return;
  for (std::string& note : reader->TakeNotes()) Message(std::move(note));
}

std::string Verdict::Prefix(size_t line) const {
  return compat_ == Compat::k20200710 ? absl::StrCat(meta_path_, ": ", line, ": ")
                                      : absl::StrCat(meta_path_, ":", line, ": ");
}

void Verdict::OutOfDate(Reason reason) {
  if (out_of_date_) return;
  out_of_date_ = true;
  d_->out_of_date = true;
  d_->reason = reason;
  d_->line = line_;
}

bool Verdict::ReportTruncated(const MetaLine& line) {
  Message(absl::StrCat(Prefix(line_), "line truncated at ", line.read_length));
  OutOfDate(Reason::kTruncated);
  return true;
}

void Verdict::Malformed() {
  Message(absl::StrCat(Prefix(line_), "malformed"));
  OutOfDate(Reason::kMalformed);
}

void Verdict::Newer(absl::string_view path) {
  Message(absl::StrCat(Prefix(line_), "file '", path, "' is newer than the target..."));
  if (!out_of_date_) d_->path = std::string(path);
  OutOfDate(Reason::kNewer);
}

void Verdict::CmdMoreInMeta() {
  Message(absl::StrCat(Prefix(line_),
                       "there were more build commands in the meta data file than there are "
                       "now..."));
  OutOfDate(Reason::kCmdMoreInMeta);
}

void Verdict::CmdExtraNow() {
  Message(absl::StrCat(Prefix(line_),
                       "there are extra build commands now that weren't in the meta data file"));
  OutOfDate(Reason::kCmdExtraNow);
}

void Verdict::CannotCompare() {
  Message(absl::StrCat(Prefix(line_), "cannot compare command using .OODATE"));
}

void Verdict::ContinuationTruncated(size_t read) {
  Message(absl::StrCat(Prefix(line_), "line truncated at ", read));
}

void Verdict::CmdChanged(absl::string_view old, absl::string_view now, CmdChange change) {
  Message(absl::StrCat(Prefix(line_), "a build command has changed\n", old, "\nvs\n", now));
  if (change == CmdChange::kMessageOnly) return;
  if (!out_of_date_) {
    d_->old_command = std::string(old);
    d_->new_command = std::string(now);
  }
  OutOfDate(Reason::kCmdChanged);
}

void Verdict::CwdChanged(absl::string_view old, absl::string_view curdir) {
  Message(absl::StrCat(Prefix(line_), "the current working directory has changed from '", old,
                       "' to '", curdir, "'"));
  OutOfDate(Reason::kCwdChanged);
}

void Verdict::MissingFiles(absl::string_view first) {
  Message(absl::StrCat(meta_path_, ": missing files: ", first, "..."));
  if (!out_of_date_) d_->path = std::string(first);
  OutOfDate(Reason::kMissingFiles);
  if (d_->reason == Reason::kMissingFiles) d_->line = 0;
}

void Verdict::MissingFilemon() {
  Message(absl::StrCat(meta_path_, ": missing filemon data"));
  OutOfDate(Reason::kMissingFilemon);
  d_->line = 0;
}

void Verdict::Appeared(size_t line, absl::string_view path) {
  Message(absl::StrCat(Prefix(line), "file '", path,
                       "' did not exist when the target was built, and now does"));
  d_->path = std::string(path);
  OutOfDate(Reason::kAppeared);
  d_->line = line;
}

}  // namespace internal
}  // namespace meta
}  // namespace filemon
