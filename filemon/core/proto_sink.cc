#include "filemon/core/proto_sink.h"

#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/core/filemon.pb.h"
#include "filemon/core/parser.h"
#include "filemon/core/proto_convert.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"

namespace filemon {
namespace {

// Position of a kind in the canonical header ("# filemon version", "# Target pid", "# Start",
// "V"), or -1.
int HeaderRank(proto::Record::Kind kind) {
  switch (kind) {
    case proto::Record::HEADER_VERSION:
      return 0;
    case proto::Record::TARGET_PID:
      return 1;
    case proto::Record::START:
      return 2;
    case proto::Record::VERSION:
      return 3;
    default:
      return -1;
  }
}

// Position of a kind in the canonical footer ("# Stop", "# Bye bye"), or -1.
int FooterRank(proto::Record::Kind kind) {
  switch (kind) {
    case proto::Record::STOP:
      return 0;
    case proto::Record::BYE_BYE:
      return 1;
    default:
      return -1;
  }
}

}  // namespace

void LogProtoSink::Add(const Record& record) {
  const auto fits = [](int64_t v) {
    return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
  };
  if (!fits(record.pid) || !fits(record.child_pid) || !fits(record.status) ||
      !fits(record.signal) || !fits(record.version)) {
    if (status_.ok()) {
      std::string line;
      AppendRecord(record, &line);
      if (!line.empty()) line.pop_back();
      status_ = absl::InvalidArgumentError(
          absl::StrCat("'", line, "': a pid, status, signal or version does not fit in 32 bits"));
    }
    return;
  }
  if (absl::IsResourceExhausted(status_)) return;  // only running out of memory sets it
  try {
    RecordToProto(record, log_.add_records());
  } catch (const std::bad_alloc&) {
    const int held = log_.records_size();
    proto::Log().Swap(&log_);  // frees what it held (Clear() would keep the elements)
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("out of memory holding the log for --format=json after ", held, " records"));
  }
}

proto::Log LogProtoSink::TakeLog() {
  proto::Log log = std::move(log_);
  log_.Clear();
  log.set_variant(VariantToProto(variant_));
  const int n = log.records_size();

  // Header: a prefix whose kinds come in canonical order, each at most once.
  int head = 0;
  for (int last = -1; head < n; ++head) {
    const int rank = HeaderRank(log.records(head).kind());
    if (rank <= last) break;
    last = rank;
  }
  // Footer: likewise, a suffix, not overlapping the header.
  int tail = n;
  for (int last = 2; tail > head; --tail) {
    const int rank = FooterRank(log.records(tail - 1).kind());
    if (rank < 0 || rank >= last) break;
    last = rank;
  }

  for (int i = 0; i < head; ++i) {
    const proto::Record& r = log.records(i);
    switch (r.kind()) {
      case proto::Record::HEADER_VERSION:
        log.set_header_name(r.path());
        log.set_header_version(r.version());
        break;
      case proto::Record::TARGET_PID:
        log.set_target_pid(r.pid());
        break;
      case proto::Record::START:
        *log.mutable_start() = r.time();
        break;
      default:  // VERSION
        log.set_version(r.version());
        break;
    }
  }
  for (int i = tail; i < n; ++i) {
    const proto::Record& r = log.records(i);
    if (r.kind() == proto::Record::STOP) {
      *log.mutable_stop() = r.time();
    } else {
      log.set_bye_bye(true);
    }
  }
  if (tail < n) log.mutable_records()->DeleteSubrange(tail, n - tail);
  if (head > 0) log.mutable_records()->DeleteSubrange(0, head);
  return log;
}

proto::Log TakeParsedLog(const Parser& parser, LogProtoSink* sink) {
  sink->set_variant(parser.variant());
  proto::Log log = sink->TakeLog();
  log.set_truncated(parser.truncated());
  log.set_incomplete(!parser.complete());
  if (parser.truncated()) CrashTailToProto(parser.tail(), &log);
  log.set_skipped_lines(static_cast<int64_t>(parser.skipped_lines()));
  return log;
}

absl::StatusOr<proto::Log> ParseLogToProto(Parser* parser) {
  LogProtoSink sink;
  Record r;
  while (parser->Next(&r)) sink.Add(r);
  if (!parser->ok()) return parser->status();
  if (!sink.status().ok()) return sink.status();
  return TakeParsedLog(*parser, &sink);
}

absl::StatusOr<proto::Log> ParseLogToProto(absl::string_view text, const ParserOptions& options) {
  Parser parser(text, options);
  return ParseLogToProto(&parser);
}

}  // namespace filemon
