// File: filemon/core/proto_sink.h
//
// A `RecordSink` that collects records into a `proto::Log` (filemon.proto), for producers that
// output JSON instead of FreeBSD text (`filemon --format=json -- COMMAND`), and
// `ParseLogToProto`, which does the same for a text log.
//
// Example (a tracer):
//   filemon::LogProtoSink sink;
//   filemon::AddHeader(getpid(), absl::Now(), &sink);   // record_sink.h
//   backend->Run(command, {}, &sink);
//   filemon::AddFooter(absl::Now(), &sink);
//   absl::StatusOr<std::string> json = filemon::LogToJson(sink.TakeLog());  // proto_convert.h

#ifndef FILEMON_CORE_PROTO_SINK_H_
#define FILEMON_CORE_PROTO_SINK_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/filemon.pb.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"

namespace filemon {

// Copies every record it is given (one heap string per path: not for hot paths that can write
// text instead). Not thread-safe. Fails (sticky, `status()`) on a record whose pid, child pid,
// status, signal or version does not fit in the proto's 32 bits (a text log may hold any
// int64; a kernel never writes one that large); such records are dropped. Running out of
// memory is a status too (ResourceExhausted), not an exception: what the sink held is freed and
// every later record dropped, so that a tracer can run its command to the end and say why.
class LogProtoSink : public RecordSink {
 public:
  LogProtoSink() = default;
  LogProtoSink(const LogProtoSink&) = delete;  // holds a possibly large message
  LogProtoSink& operator=(const LogProtoSink&) = delete;

  void Add(const Record& record) override;
  absl::Status status() const override { return status_; }

  // The variant stored in the log. Default: `LogVariant::kFreeBsdV5`, what this library's
  // writer and backends produce.
  void set_variant(LogVariant variant) { variant_ = variant; }

  // The log collected so far, with the header lines found at its start and the footer lines
  // found at its end moved into their fields (so that `AppendLogText` restores the text). The
  // sink is empty afterwards.
  proto::Log TakeLog();

 private:
  proto::Log log_;
  LogVariant variant_ = LogVariant::kFreeBsdV5;
  absl::Status status_;
};

// Parses a whole text log into a `proto::Log` (variant, truncated, incomplete, the crash tail
// and skipped_lines filled in).
// Errors: strict mode's first malformed line, as `Parser::status()` reports it; a number that
// does not fit in 32 bits (`LogProtoSink`).
absl::StatusOr<proto::Log> ParseLogToProto(absl::string_view text, const ParserOptions& options);
// The same from a parser not yet (fully) read, which the caller keeps for its counters.
absl::StatusOr<proto::Log> ParseLogToProto(Parser* parser);
// For a caller that fed `sink` from `parser` itself (a log read in pieces): the collected log
// with the parser's findings (variant, truncated, incomplete, the crash tail, skipped_lines).
proto::Log TakeParsedLog(const Parser& parser, LogProtoSink* sink);

}  // namespace filemon

#endif  // FILEMON_CORE_PROTO_SINK_H_
