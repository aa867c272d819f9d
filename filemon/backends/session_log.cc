#include "filemon/backends/session_log.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/string_view.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"

namespace filemon {

absl::Status SessionLogReader::Deliver(RecordSink* sink, bool final) {
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = pread(fd_, buffer, sizeof(buffer), offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "pread(session log)");
    if (n == 0) break;
    pending_.append(buffer, static_cast<size_t>(n));
    offset_ += n;
  }
  size_t end = final ? pending_.size() : pending_.rfind('\n');
  if (end == std::string::npos || end == 0) return absl::OkStatus();
  if (!final) ++end;
  ParserOptions options;
  options.filename = "session";
  options.unterminated_last_line = UnterminatedLine::kRecord;
  Parser parser(absl::string_view(pending_.data(), end), options);
  Record record;
  while (parser.Next(&record)) sink->Add(record);
  absl::Status status = parser.status();
  pending_.erase(0, end);
  return status;
}

}  // namespace filemon
