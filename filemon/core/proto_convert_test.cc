#include "filemon/core/proto_convert.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "filemon/core/filemon.pb.h"
#include "filemon/core/parser.h"
#include "filemon/core/proto_sink.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/core/test_child.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

constexpr absl::string_view kFreeBsdV5 =
    "# filemon version 5\n"
    "# Target pid 53942\n"
    "# Start 1497269126.786684\n"
    "V 5\n"
    "E 65204 /bin/sleep\n"
    "R 65204 /etc/libmap.conf\n"
    "X 65204 0 0\n"
    "# Stop 1497269127.857683\n"
    "# Bye bye\n";

std::vector<Record> AllKinds() {
  Record hv;
  hv.kind = RecordKind::kHeaderVersion;
  hv.path = "buildmon";
  hv.version = 4;
  Record tp;
  tp.kind = RecordKind::kTargetPid;
  tp.pid = 12;
  Record start;
  start.kind = RecordKind::kStart;
  start.seconds = 5;
  start.microseconds = 6;
  Record stop = start;
  stop.kind = RecordKind::kStop;
  Record v;
  v.kind = RecordKind::kVersion;
  v.version = 5;
  Record bye;
  bye.kind = RecordKind::kByeBye;
  Record x2;
  x2.kind = RecordKind::kExit;
  x2.pid = 3;
  x2.status = 256;
  return {hv,
          tp,
          start,
          v,
          Record::Path(RecordKind::kAt, 1, "rel"),
          Record::Path(RecordKind::kChdir, 1, "/"),
          Record::Path(RecordKind::kDelete, 1, "a b"),
          Record::Path(RecordKind::kExec, 1, "/bin/sh"),
          Record::Fork(1, 2),
          Record::TwoPaths(RecordKind::kLink, 1, "x", "y\n'"),
          Record::TwoPaths(RecordKind::kMove, 1, "\xff\xfe", "ok"),
          Record::Path(RecordKind::kRead, 1, "caf\xc3\xa9"),
          Record::Path(RecordKind::kStat, 1, "/etc"),
          Record::Path(RecordKind::kWrite, 1, "\x80"),
          Record::Path(RecordKind::kNotFound, 1, "inc1/x.h"),
          Record::Exit(1, 0, 9),
          x2,
          Record::Comment(" hello"),
          stop,
          bye};
}

TEST(RecordProto, EveryKindRoundTrips) {
  for (const Record& r : AllKinds()) {
    SCOPED_TRACE(static_cast<int>(r.kind));
    proto::Record p;
    RecordToProto(r, &p);
    absl::StatusOr<Record> back = RecordFromProto(p);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, r);
  }
}

TEST(RecordProto, NonUtf8PathsGoToBytesFields) {
  proto::Record p;
  RecordToProto(Record::TwoPaths(RecordKind::kMove, 1, "\xff", "caf\xc3\xa9"), &p);
  EXPECT_EQ(p.first_case(), proto::Record::kPathBytes);
  EXPECT_EQ(p.second_case(), proto::Record::kPath2);
}

TEST(RecordProto, UnspecifiedKindIsAnError) {
  proto::Record p;
  EXPECT_FALSE(RecordFromProto(p).ok());
  p.set_kind(static_cast<proto::Record::Kind>(99));
  EXPECT_FALSE(RecordFromProto(p).ok());
}

TEST(LogProto, FreeBsdV5ExampleRoundTripsThroughProtoAndJson) {
  absl::StatusOr<proto::Log> log = ParseLogToProto(kFreeBsdV5, {});
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->variant(), proto::Log::FREEBSD_V5);
  EXPECT_EQ(log->header_version(), 5);
  EXPECT_EQ(log->target_pid(), 53942);
  EXPECT_EQ(log->start().microseconds(), 786684);
  EXPECT_EQ(log->records_size(), 3);
  EXPECT_TRUE(log->bye_bye());
  std::string text;
  ASSERT_TRUE(AppendLogText(*log, &text).ok());
  EXPECT_EQ(text, kFreeBsdV5);

  absl::StatusOr<std::string> json = LogToJson(*log);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"path\":\"/bin/sleep\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"variant\":\"FREEBSD_V5\""), std::string::npos) << *json;
  absl::StatusOr<proto::Log> back = LogFromJson(*json);
  ASSERT_TRUE(back.ok()) << back.status();
  std::string text2;
  ASSERT_TRUE(AppendLogText(*back, &text2).ok());
  EXPECT_EQ(text2, kFreeBsdV5);
}

TEST(LogProto, EveryKindAndOutOfPlaceHeaderLinesRoundTrip) {
  // Header lines in the middle, two "# Bye bye" (NetBSD), escapes, non-UTF-8 paths.
  LogProtoSink sink;
  std::string expected;
  for (int i = 0; i < 2; ++i) {
    for (const Record& r : AllKinds()) {
      sink.Add(r);
      AppendRecord(r, &expected);
    }
  }
  proto::Log log = sink.TakeLog();
  EXPECT_TRUE(log.has_header_version());
  EXPECT_TRUE(log.bye_bye());
  EXPECT_EQ(log.records_size(), 2 * static_cast<int>(AllKinds().size()) - 6);
  std::string text;
  ASSERT_TRUE(AppendLogText(log, &text).ok());
  EXPECT_EQ(text, expected);
  absl::StatusOr<std::string> json = LogToJson(log, /*pretty=*/true);
  ASSERT_TRUE(json.ok()) << json.status();
  absl::StatusOr<proto::Log> back = LogFromJson(*json);
  ASSERT_TRUE(back.ok()) << back.status();
  std::string text2;
  ASSERT_TRUE(AppendLogText(*back, &text2).ok());
  EXPECT_EQ(text2, expected);
}

TEST(LogProtoSink, CollectsWhatATracerProduces) {
  LogProtoSink sink;
  AddHeader(100, absl::FromUnixMicros(1000002), &sink);
  sink.Add(Record::Path(RecordKind::kRead, 101, "/etc/passwd"));
  AddFooter(absl::FromUnixMicros(2000003), &sink);
  proto::Log log = sink.TakeLog();
  EXPECT_EQ(log.variant(), proto::Log::FREEBSD_V5);
  EXPECT_EQ(log.target_pid(), 100);
  EXPECT_EQ(log.start().seconds(), 1);
  EXPECT_EQ(log.start().microseconds(), 2);
  EXPECT_EQ(log.stop().microseconds(), 3);
  ASSERT_EQ(log.records_size(), 1);
  EXPECT_EQ(log.records(0).path(), "/etc/passwd");
  EXPECT_EQ(sink.TakeLog().records_size(), 0);  // emptied
}

// A sink that runs out of memory (a JSON trace of a long build on a small machine) fails with
// a status, frees what it held and drops the rest, so that the tracer can run the command to
// its end and say why there is no log; it used to abort the tracer with std::bad_alloc. Run in
// a child whose address space is limited to 64 MiB more than it uses.
int FillASinkPastTheLimit() {
  if (!LimitAddressSpace(size_t{64} << 20)) return 11;
  LogProtoSink sink;
  const std::string path(200, 'p');
  for (long added = 0; added < 10000000 && sink.status().ok(); ++added) {
    sink.Add(Record::Path(RecordKind::kRead, 1, path));
  }
  if (sink.status().ok()) return 12;  // never ran out: the limit did not hold
  if (!absl::IsResourceExhausted(sink.status())) return 13;
  sink.Add(Record::Path(RecordKind::kRead, 1, path));  // dropped, no abort
  if (sink.TakeLog().records_size() != 0) return 14;
  return 0;
}

TEST(LogProtoSink, RunningOutOfMemoryIsAStatusNotAnAbort) {
  EXPECT_EQ(ExitCodeOfChild(FillASinkPastTheLimit), 0) << "125: std::bad_alloc escaped the sink";
}

// Converting a log too large for the memory left says so; protobuf's converter would abort
// the process (std::bad_alloc inside a destructor) where the room ran out.
int ConvertALogTooLargeForTheLimit() {
  proto::Log log;
  const std::string path(200, 'p');
  for (int i = 0; i < 200000; ++i) {
    proto::Record* r = log.add_records();
    r->set_kind(proto::Record::READ);
    r->set_pid(1);
    r->set_path(path);
  }
  if (!LimitAddressSpace(log.ByteSizeLong())) return 11;  // room for the bytes, not the text
  absl::StatusOr<std::string> json = LogToJson(log);
  return absl::IsResourceExhausted(json.status()) ? 0 : 12;
}

TEST(LogProto, JsonOfALogTooLargeForTheMemoryLeftIsAStatus) {
  EXPECT_EQ(ExitCodeOfChild(ConvertALogTooLargeForTheLimit), 0)
      << "125: std::bad_alloc escaped the conversion";
}

TEST(LogProto, StrictErrorAndLenientCounts) {
  ParserOptions strict;
  strict.filename = "x.log";
  absl::StatusOr<proto::Log> bad = ParseLogToProto("R 1 /a\nQ\n", strict);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "x.log:2:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'");
  ParserOptions lenient;
  lenient.strict = false;
  absl::StatusOr<proto::Log> ok = ParseLogToProto("R 1 /a\nQ\nR 2 /b", lenient);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->skipped_lines(), 1);
  EXPECT_TRUE(ok->truncated());
  EXPECT_TRUE(ok->incomplete());
  EXPECT_EQ(ok->records_size(), 1);  // the crash tail is not a record
  EXPECT_EQ(ok->tail(), "R 2 /b");
  std::string text;
  ASSERT_TRUE(AppendLogText(*ok, &text).ok());
  EXPECT_EQ(text, "R 1 /a\nR 2 /b");  // the tail written back as it was
}

}  // namespace
}  // namespace filemon
