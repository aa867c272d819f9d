#include "filemon/core/timed_flush_sink.h"

#include <dirent.h>
#include <poll.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

// What arrives on `fd` within `timeout`.
std::string ReadWithin(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return "";
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(TimedFlushSink, ARecordLeavesTheBufferWithinTheInterval) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Writer writer(fds[1], {});  // 64 KiB buffer: alone, it would hold the record until Close()
  TimedFlushSink sink(&writer, {absl::Milliseconds(50)});
  const absl::Time start = absl::Now();
  sink.Add(Record::Path(RecordKind::kRead, 1, "/etc/motd"));
  EXPECT_EQ(ReadWithin(fds[0], absl::Seconds(5)), "R 1 /etc/motd\n");
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // Nothing more while nothing is added; Stop() flushes what is pending.
  EXPECT_EQ(ReadWithin(fds[0], absl::Milliseconds(150)), "");
  sink.Add(Record::Path(RecordKind::kWrite, 2, "/tmp/x"));
  sink.Stop();
  EXPECT_EQ(ReadWithin(fds[0], absl::Seconds(5)), "W 2 /tmp/x\n");
  EXPECT_TRUE(writer.Close().ok());
  close(fds[0]);
}

// The threads of this process.
int Threads() {
  int n = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) n += entry->d_name[0] != '.';
    closedir(dir);
  }
  return n;
}

TEST(TimedFlushSink, NoThreadBeforeTheFirstRecord) {
  Writer writer(-1, {});
  const int before = Threads();
  TimedFlushSink sink(&writer, {});
  EXPECT_EQ(Threads(), before);
  sink.Add(Record::Path(RecordKind::kRead, 1, "/a"));
  EXPECT_EQ(Threads(), before + 1);
  sink.Stop();
  EXPECT_EQ(Threads(), before);
}

TEST(TimedFlushSink, StopWithoutRecords) {
  Writer writer(-1, {});
  TimedFlushSink sink(&writer, {});
  sink.Stop();
  EXPECT_TRUE(sink.status().ok());
}

TEST(TimedFlushSink, FlushIsImmediate) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Writer writer(fds[1], {});
  TimedFlushSink sink(&writer, {absl::Hours(1)});
  sink.Add(Record::Path(RecordKind::kRead, 1, "/a"));
  EXPECT_TRUE(sink.Flush().ok());
  EXPECT_EQ(ReadWithin(fds[0], absl::Seconds(5)), "R 1 /a\n");
  sink.Stop();
  EXPECT_TRUE(writer.Close().ok());
  close(fds[0]);
}

}  // namespace
}  // namespace filemon
