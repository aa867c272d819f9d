#include "filemon/core/record_sink.h"

#include <cstdint>

#include "absl/time/time.h"
#include "filemon/core/record.h"

namespace filemon {
namespace {

// The version of the format the header announces (writer.h's kFilemonVersion).
constexpr int64_t kHeaderFormatVersion = 5;

Record TimeRecord(RecordKind kind, absl::Time t) {
  const int64_t us = absl::ToUnixMicros(t);
  Record r;
  r.kind = kind;
  r.seconds = us < 0 ? 0 : us / 1000000;
  r.microseconds = us < 0 ? 0 : us % 1000000;
  return r;
}

}  // namespace

void AddHeader(int64_t target_pid, absl::Time start, RecordSink* sink) {
  Record version;
  version.kind = RecordKind::kHeaderVersion;
  version.path = "filemon";
  version.version = kHeaderFormatVersion;
  sink->Add(version);
  Record target;
  target.kind = RecordKind::kTargetPid;
  target.pid = target_pid;
  sink->Add(target);
  sink->Add(TimeRecord(RecordKind::kStart, start));
  Record v;
  v.kind = RecordKind::kVersion;
  v.version = kHeaderFormatVersion;
  sink->Add(v);
}

void AddFooter(absl::Time stop, RecordSink* sink) {
  sink->Add(TimeRecord(RecordKind::kStop, stop));
  Record bye;
  bye.kind = RecordKind::kByeBye;
  sink->Add(bye);
}

}  // namespace filemon
