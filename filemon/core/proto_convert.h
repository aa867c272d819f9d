// File: filemon/core/proto_convert.h
//
// Conversion between the record model (record.h) and its protobuf schema (filemon.proto), and
// between a `proto::Log` and its FreeBSD text and JSON forms. To build a `proto::Log` from text
// or from a producer, see proto_sink.h.
//
// Example:
//   filemon::proto::Record p;
//   filemon::RecordToProto(filemon::Record::Path(filemon::RecordKind::kRead, 7, "/etc"), &p);
//   absl::StatusOr<filemon::Record> r = filemon::RecordFromProto(p);  // views into `p`
//   absl::StatusOr<std::string> json = filemon::LogToJson(log);

#ifndef FILEMON_CORE_PROTO_CONVERT_H_
#define FILEMON_CORE_PROTO_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/filemon.pb.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"

namespace filemon {

// Fills `*out` (cleared first) from `record`: the fields of its kind, zeros included. Paths
// that are not valid UTF-8 go to the `*_bytes` fields. REQUIRES: its pid, child pid, status,
// signal and version fit in 32 bits (`LogProtoSink` checks).
void RecordToProto(const Record& record, proto::Record* out);

// The record `proto` describes. Its views point into `proto`'s strings: valid while `proto` is
// alive and unchanged. Errors: KIND_UNSPECIFIED or an unknown kind.
absl::StatusOr<Record> RecordFromProto(const proto::Record& proto);

proto::Log::Variant VariantToProto(LogVariant variant);
LogVariant VariantFromProto(proto::Log::Variant variant);

// Sets `tail` or `tail_bytes` (if not valid UTF-8) of `*log` to a crash tail.
void CrashTailToProto(absl::string_view tail, proto::Log* log);

// Appends the FreeBSD text of `log` to `*out`: header fields, records, footer fields, and a
// crash tail as it was (without a newline). For a
// `Log` made from a canonical FreeBSD v5 log this reproduces it byte for byte. Errors: a record
// that `RecordFromProto` rejects (nothing is appended after it).
absl::Status AppendLogText(const proto::Log& log, std::string* out);

// One JSON object (protobuf's JSON mapping: lowerCamel names, 32-bit numbers as numbers, the
// 64-bit seconds of a time as strings).
absl::StatusOr<std::string> LogToJson(const proto::Log& log, bool pretty = false);
absl::StatusOr<proto::Log> LogFromJson(absl::string_view json);

}  // namespace filemon

#endif  // FILEMON_CORE_PROTO_CONVERT_H_
