// File: filemon/meta/meta_file.h
//
// The structure of a bmake `.meta` file, read without judging it: the header (`# Meta data
// file`, `CMD` records, which may span several lines, `CWD`, `TARGET`, `OODATE`, `ENV`), the
// captured command output (with bmake's `*** Error code N` line), and the filemon section
// (after `-- filemon acquired metadata --`, or from a `# buildmon` line), each with its 1-based
// line number. The filemon section itself is read by core's `filemon::Parser`; see
// `ForEachFilemonRecord`. The layout and its sources are in bmake_meta.md §1.
//
// Deciding whether a target is out of date follows bmake's own line-by-line reading instead
// (checker.h), because bmake recognises `CMD`/`CWD` anywhere before the filemon section.
//
// Example:
//   absl::StatusOr<filemon::MappedFile> data = filemon::MappedFile::Open("foo.o.meta");
//   filemon::meta::MetaFile meta = filemon::meta::ParseMetaFile(data->data());
//   for (const auto& cmd : meta.commands) std::cout << cmd.line << ": " << cmd.text << "\n";

#ifndef FILEMON_META_META_FILE_H_
#define FILEMON_META_META_FILE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "filemon/core/record.h"

namespace filemon {
namespace meta {

// A header value with the line it came from. Views point into the parsed data.
struct MetaLine {
  absl::string_view text;
  size_t line = 0;  // 1-based; 0: absent
};

struct MetaFile {
  absl::string_view data;
  MetaLine meta_name;              // "# Meta data file PATH": PATH
  std::vector<MetaLine> commands;  // "CMD text"; continuation lines are joined with '\n'
  MetaLine cwd;                    // "CWD dir"
  MetaLine target;                 // "TARGET name"
  MetaLine oodate;                 // "OODATE files"
  std::vector<MetaLine> env;       // "ENV NAME=value"
  // The text after "-- command output --" up to the filemon section (or the end).
  MetaLine output;
  // From the last "*** Error code N" (or "N(ignored)") line of the output.
  absl::optional<int> error_code;
  bool error_ignored = false;
  // True if a "-- filemon..." or "# buildmon..." line was seen; `filemon` is the text after
  // that line (for "# buildmon", the line itself is included: it is the log's own header).
  bool has_filemon = false;
  MetaLine filemon;
};

// Never fails: every byte sequence has a structure (unknown header lines are skipped, as
// bmake does). A last line without '\n' is kept.
MetaFile ParseMetaFile(absl::string_view data);

// Parses `meta.filemon` with core's lenient `filemon::Parser` and calls `fn(record, line)` for
// each record, `line` being the .meta line. Lines the parser cannot read are skipped; the
// returned status names the first one ("FILE:LINE:COL: why") if `strict`, else it is OK, and
// `*skipped` (if not null) receives their number. A record whose paths are longer than a line
// may be (kMaxLineBytes, log_reader.h) ends the walk before `fn` sees it, with
// `LineTooLongError` ("FILE: line N is longer than the limit of 1048576 bytes"), in either mode.
absl::Status ForEachFilemonRecord(const MetaFile& meta, absl::string_view filename, bool strict,
                                  absl::FunctionRef<void(const Record&, size_t)> fn,
                                  size_t* skipped = nullptr);

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_META_FILE_H_
