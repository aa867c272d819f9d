#include "filemon/core/proto_convert.h"

#include <cstdint>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/core/filemon.pb.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"
#include "google/protobuf/util/json_util.h"

namespace filemon {
namespace {

// RecordKind and proto::Record::Kind in the same order, offset by one (KIND_UNSPECIFIED).
constexpr RecordKind kLastKind = RecordKind::kNotFound;
static_assert(static_cast<int>(kLastKind) + 1 == proto::Record::NOT_FOUND, "kinds out of sync");
static_assert(static_cast<int>(RecordKind::kAt) + 1 == proto::Record::AT, "kinds out of sync");
static_assert(static_cast<int>(RecordKind::kExit) + 1 == proto::Record::EXIT, "out of sync");

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

void SetTime(int64_t seconds, int64_t microseconds, proto::Time* t) {
  t->set_seconds(seconds);
  t->set_microseconds(static_cast<int32_t>(microseconds));  // 0..999999
}

}  // namespace

void RecordToProto(const Record& record, proto::Record* out) {
  out->Clear();
  out->set_kind(static_cast<proto::Record::Kind>(static_cast<int>(record.kind) + 1));
  switch (record.kind) {
    case RecordKind::kFork:
      out->set_pid(static_cast<int32_t>(record.pid));
      out->set_child_pid(static_cast<int32_t>(record.child_pid));
      return;
    case RecordKind::kExit:
      out->set_pid(static_cast<int32_t>(record.pid));
      out->set_status(static_cast<int32_t>(record.status));
      if (record.has_signal) out->set_signal(static_cast<int32_t>(record.signal));
      return;
    case RecordKind::kVersion:
      out->set_version(static_cast<int32_t>(record.version));
      return;
    case RecordKind::kTargetPid:
      out->set_pid(static_cast<int32_t>(record.pid));
      return;
    case RecordKind::kStart:
    case RecordKind::kStop:
      SetTime(record.seconds, record.microseconds, out->mutable_time());
      return;
    case RecordKind::kByeBye:
      return;
    case RecordKind::kHeaderVersion:
      out->set_version(static_cast<int32_t>(record.version));
      break;
    case RecordKind::kComment:
      break;
    default:
      out->set_pid(static_cast<int32_t>(record.pid));
      break;
  }
  // The path fields: one-path and two-path records, the header's name, a comment's text.
  if (IsValidUtf8(record.path)) {
    out->set_path(record.path.data(), record.path.size());
  } else {
    out->set_path_bytes(record.path.data(), record.path.size());
  }
  if (!HasTwoPaths(record.kind)) return;
  if (IsValidUtf8(record.path2)) {
    out->set_path2(record.path2.data(), record.path2.size());
  } else {
    out->set_path2_bytes(record.path2.data(), record.path2.size());
  }
}

absl::StatusOr<Record> RecordFromProto(const proto::Record& proto) {
  const int kind = static_cast<int>(proto.kind());
  if (kind < proto::Record::AT || kind > proto::Record::NOT_FOUND) {
    return absl::InvalidArgumentError(
        absl::StrCat("filemon.proto.Record: expected a kind, got ", kind));
  }
  Record r;
  r.kind = static_cast<RecordKind>(kind - 1);
  r.pid = proto.pid();
  r.child_pid = proto.child_pid();
  r.status = proto.status();
  r.has_signal = proto.has_signal();
  r.signal = proto.signal();
  r.version = proto.version();
  r.seconds = proto.time().seconds();
  r.microseconds = proto.time().microseconds();
  const std::string& path =
      proto.first_case() == proto::Record::kPathBytes ? proto.path_bytes() : proto.path();
  const std::string& path2 =
      proto.second_case() == proto::Record::kPath2Bytes ? proto.path2_bytes() : proto.path2();
  r.path = absl::string_view(path.data(), path.size());
  r.path2 = absl::string_view(path2.data(), path2.size());
  return r;
}

proto::Log::Variant VariantToProto(LogVariant variant) {
  return static_cast<proto::Log::Variant>(static_cast<int>(variant));
}
static_assert(static_cast<int>(LogVariant::kJuniperLinux) == proto::Log::JUNIPER_LINUX,
              "variants out of sync");
static_assert(static_cast<int>(LogVariant::kFreeBsdV5) == proto::Log::FREEBSD_V5,
              "variants out of sync");

LogVariant VariantFromProto(proto::Log::Variant variant) {
  const int v = static_cast<int>(variant);
  if (v < 0 || v > proto::Log::JUNIPER_LINUX) return LogVariant::kUnknown;
  return static_cast<LogVariant>(v);
}

absl::Status AppendLogText(const proto::Log& log, std::string* out) {
  Record r;
  if (log.has_header_version()) {
    r = Record();
    r.kind = RecordKind::kHeaderVersion;
    r.path = log.header_name() == "buildmon" ? "buildmon" : "filemon";
    r.version = log.header_version();
    AppendRecord(r, out);
  }
  if (log.has_target_pid()) {
    r = Record();
    r.kind = RecordKind::kTargetPid;
    r.pid = log.target_pid();
    AppendRecord(r, out);
  }
  if (log.has_start()) {
    r = Record();
    r.kind = RecordKind::kStart;
    r.seconds = log.start().seconds();
    r.microseconds = log.start().microseconds();
    AppendRecord(r, out);
  }
  if (log.has_version()) {
    r = Record();
    r.kind = RecordKind::kVersion;
    r.version = log.version();
    AppendRecord(r, out);
  }
  for (int i = 0; i < log.records_size(); ++i) {
    absl::StatusOr<Record> record = RecordFromProto(log.records(i));
    if (!record.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("filemon.proto.Log.records[", i, "]: ", record.status().message()));
    }
    AppendRecord(*record, out);
  }
  if (log.has_stop()) {
    r = Record();
    r.kind = RecordKind::kStop;
    r.seconds = log.stop().seconds();
    r.microseconds = log.stop().microseconds();
    AppendRecord(r, out);
  }
  if (log.bye_bye()) {
    r = Record();
    r.kind = RecordKind::kByeBye;
    AppendRecord(r, out);
  }
  out->append(log.crash_tail_case() == proto::Log::kTailBytes ? log.tail_bytes() : log.tail());
  return absl::OkStatus();
}

void CrashTailToProto(absl::string_view tail, proto::Log* log) {
  if (IsValidUtf8(tail)) {
    log->set_tail(tail.data(), tail.size());
  } else {
    log->set_tail_bytes(tail.data(), tail.size());
  }
}

absl::StatusOr<std::string> LogToJson(const proto::Log& log, bool pretty) {
  // MessageToJsonString serializes the message to bytes, then those to JSON, partly inside code
  // that cannot pass an exception on (a stream's destructor): std::bad_alloc there aborts the
  // process. So the room for the bytes and the text (a few times the bytes) is tried first.
  // That catches an address-space limit (`ulimit -v`); where the kernel overcommits, a machine
  // short of memory may still grant this and fail later (the OOM killer).
  try {
    std::string room;
    room.reserve(log.ByteSizeLong() * 4 + 4096);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("out of memory converting the log to JSON (",
                                                     log.records_size(), " records)"));
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(log, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("filemon.proto.Log to JSON: ", status.ToString()));
  }
  return json;
}

absl::StatusOr<proto::Log> LogFromJson(absl::string_view json) {
  proto::Log log;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &log);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("filemon.proto.Log from JSON: ", status.ToString()));
  }
  return log;
}

}  // namespace filemon
