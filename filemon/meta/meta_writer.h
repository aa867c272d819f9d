// File: filemon/meta/meta_writer.h
//
// Writes a `.meta` file in bmake's layout (meta.c: meta_create(), meta_job_output(),
// meta_job_error(), meta_cmd_finish(); bmake_meta.md §1), so that builders other
// than bmake, running a command under any filemon backend, produce files that bmake and
// `filemon::meta::Checker` read:
//
//   # Meta data file /obj/foo.o.meta
//   CMD cc -c foo.c
//   CWD /obj
//   TARGET foo.o
//   -- command output --
//   <output, verbatim>
//   [\n*** Error code N\n]
//   \n-- filemon acquired metadata --\n<the filemon log>     (or just "\n" without filemon)
//
// To run a target's commands and write its .meta in one call, use RunAndRecord
// (run_and_record.h), which is built on this. By hand:
//   filemon::meta::MetaLogBuffer log;                  // a RecordSink
//   filemon::AddHeader(getpid(), absl::Now(), &log);
//   backend->Run(command, {}, &log);
//   filemon::AddFooter(absl::Now(), &log);
//   filemon::meta::MetaHeader header{"/obj/foo.o.meta", {"cc -c foo.c"}, "/obj", "foo.o"};
//   absl::Status s = filemon::meta::WriteMetaFile(
//       "/obj/foo.o.meta", filemon::meta::FormatMeta(header, output, absl::nullopt, &log.text()));

#ifndef FILEMON_META_META_WRITER_H_
#define FILEMON_META_META_WRITER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"

namespace filemon {
namespace meta {

struct MetaHeader {
  std::string meta_path;              // absolute; "# Meta data file %s"
  std::vector<std::string> commands;  // expanded, '@'/'-'/'+' prefixes kept; "CMD %s" each
  std::string cwd;                    // "CWD %s" (bmake's .OBJDIR, as getcwd() gives it)
  std::string target;                 // "TARGET %s" (.TARGET as written)
  std::string oodate;                 // "OODATE %s", only if not empty
  std::vector<std::string> env;       // "ENV %s" each (MAKE_MODE=env)
};

// How the commands failed, for "*** Error code N" (bmake: the exit status, or the signal that
// killed the command).
struct MetaError {
  int code = 0;
  bool ignored = false;  // "(ignored)": a '-' command
};

// The whole file. `filemon_log` null: no filemon section (bmake without filemon).
std::string FormatMeta(const MetaHeader& header, absl::string_view output,
                       const absl::optional<MetaError>& error, const std::string* filemon_log);

// Writes `text` to `path` atomically (a temporary file in the same directory, then rename(2)),
// so that a reader never sees half a .meta. Errors name the path and the call.
absl::Status WriteMetaFile(const std::string& path, absl::string_view text);

// A RecordSink that formats records as filemon(4) v5 text in memory (core's AppendRecord), for
// the filemon section. Never fails.
class MetaLogBuffer : public RecordSink {
 public:
  void Add(const Record& record) override;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace meta
}  // namespace filemon

#endif  // FILEMON_META_META_WRITER_H_
