#include "filemon/core/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "filemon/core/owned_fd.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

Record Header(RecordKind kind) {
  Record r;
  r.kind = kind;
  return r;
}

// One golden line per record kind. `expected` is what the kernel's own format string (copied
// from the spec, filemon/core/log_format.md, with its sources) makes of the same values through
// snprintf, so the writer is checked against the format strings themselves.
struct Golden {
  Record record;
  std::string expected;
  const char* line;  // the same bytes, spelled out for the reader
};

template <typename... Args>
std::string Printf(const char* format, Args... args) {
  char buf[512];
  const int n = snprintf(buf, sizeof buf, format, args...);
  return std::string(buf, static_cast<size_t>(n));
}

std::vector<Golden> Goldens() {
  Record hv = Header(RecordKind::kHeaderVersion);
  hv.path = "filemon";
  hv.version = 5;
  Record bmv = hv;
  bmv.path = "buildmon";
  bmv.version = 4;
  Record tp = Header(RecordKind::kTargetPid);
  tp.pid = 53942;
  Record start = Header(RecordKind::kStart);
  start.seconds = 1497269126;
  start.microseconds = 786684;
  Record stop = Header(RecordKind::kStop);
  stop.seconds = 1497269127;
  stop.microseconds = 7;
  Record v = Header(RecordKind::kVersion);
  v.version = 5;
  Record x2;
  x2.kind = RecordKind::kExit;
  x2.pid = 4899;
  x2.status = 256;
  const uintmax_t s1 = 1497269126, u1 = 786684, s2 = 1497269127, u2 = 7;
  return {
      // FreeBSD filemon.c filemon_write_header(): "# filemon version %d\n# Target pid %d\n"
      // "# Start %ju.%06ju\nV %d\n", one line each.
      {hv, Printf("# filemon version %d\n", 5), "# filemon version 5\n"},
      // Juniper filemon-linux: "# buildmon version %d\n".
      {bmv, Printf("# buildmon version %d\n", 4), "# buildmon version 4\n"},
      {tp, Printf("# Target pid %d\n", 53942), "# Target pid 53942\n"},
      {start, Printf("# Start %ju.%06ju\n", s1, u1), "# Start 1497269126.786684\n"},
      {v, Printf("V %d\n", 5), "V 5\n"},
      // FreeBSD filemon_wrapper.c.
      {Record::Path(RecordKind::kAt, 12, "rel/x"), Printf("A %d %s\n", 12, "rel/x"),
       "A 12 rel/x\n"},
      {Record::Path(RecordKind::kChdir, 12, "/tmp"), Printf("C %d %s\n", 12, "/tmp"),
       "C 12 /tmp\n"},
      {Record::Path(RecordKind::kDelete, 12, "a b"), Printf("D %d %s\n", 12, "a b"), "D 12 a b\n"},
      {Record::Path(RecordKind::kExec, 65204, "/bin/sleep"),
       Printf("E %d %s\n", 65204, "/bin/sleep"), "E 65204 /bin/sleep\n"},
      {Record::Fork(29676, 4899), Printf("F %d %d\n", 29676, 4899), "F 29676 4899\n"},
      {Record::TwoPaths(RecordKind::kLink, 7, "/a", "b c"),
       Printf("L %d '%s' '%s'\n", 7, "/a", "b c"), "L 7 '/a' 'b c'\n"},
      {Record::TwoPaths(RecordKind::kMove, 576, "foo.h.new", "foo.h"),
       Printf("M %d '%s' '%s'\n", 576, "foo.h.new", "foo.h"), "M 576 'foo.h.new' 'foo.h'\n"},
      {Record::Path(RecordKind::kRead, 1, "/etc/motd"),
       Printf("R %d %s%s%s\n", 1, "", "", "/etc/motd"), "R 1 /etc/motd\n"},
      // FreeBSD 9.x filemon_wrapper.c: "S %d %s\n".
      {Record::Path(RecordKind::kStat, 1, "/etc"), Printf("S %d %s\n", 1, "/etc"), "S 1 /etc\n"},
      {Record::Path(RecordKind::kWrite, 29676, "foo.h.new"),
       Printf("%c %d %s%s%s\n", 'W', 29676, "", "", "foo.h.new"), "W 29676 foo.h.new\n"},
      {Record::Exit(65204, 0, 0), Printf("X %d %d %d\n", 65204, 0, 0), "X 65204 0 0\n"},
      {Record::Exit(9, 1, 15), Printf("X %d %d %d\n", 9, 1, 15), "X 9 1 15\n"},
      // FreeBSD 9.x/10.x, NetBSD, ktrace: "X %d %d\n".
      {x2, Printf("X %d %d\n", 4899, 256), "X 4899 256\n"},
      // filemon_close_log(): "# Stop %ju.%06ju\n# Bye bye\n".
      {stop, Printf("# Stop %ju.%06ju\n", s2, u2), "# Stop 1497269127.000007\n"},
      {Header(RecordKind::kByeBye), Printf("# Bye bye\n"), "# Bye bye\n"},
      {Record::Comment(" any text"), Printf("#%s\n", " any text"), "# any text\n"},
      {Record::Path(RecordKind::kRead, 3, ""), Printf("R %d %s\n", 3, ""), "R 3 \n"},
      // Our extension, in the one-path records' format: a probe that found nothing.
      {Record::Path(RecordKind::kNotFound, 8, "inc1/a b.h"), Printf("N %d %s\n", 8, "inc1/a b.h"),
       "N 8 inc1/a b.h\n"},
      {Record::Fork(-9223372036854775807 - 1, 9223372036854775807),
       Printf("F %jd %jd\n", INTMAX_MIN, INTMAX_MAX),
       "F -9223372036854775808 9223372036854775807\n"},
  };
}

TEST(FormatRecord, GoldenLinesMatchKernelFormatStrings) {
  for (const Golden& g : Goldens()) {
    SCOPED_TRACE(g.line);
    std::string out;
    AppendRecord(g.record, &out);
    EXPECT_EQ(out, g.expected);
    EXPECT_EQ(out, g.line);
    EXPECT_LE(out.size(), MaxFormattedSize(g.record));
  }
}

TEST(FormatRecord, IntegersOfEveryLengthMatchPrintf) {
  for (int64_t v : {int64_t{0}, int64_t{9}, int64_t{10}, int64_t{99}, int64_t{100}, int64_t{-1},
                    int64_t{-10}}) {
    for (int64_t m = 1; m <= INT64_MAX / 1000; m *= 10) {  // |v * m| + 7 fits
      const int64_t x = v * m + (v < 0 ? -7 : 7);
      std::string out;
      AppendRecord(Record::Fork(x, x - 1), &out);
      EXPECT_EQ(out, Printf("F %jd %jd\n", static_cast<intmax_t>(x), static_cast<intmax_t>(x - 1)));
    }
  }
}

TEST(FormatRecord, EscapesUnfaithfulPathsBehindAMarkerLine) {
  struct Case {
    Record record;
    const char* text;
  } cases[] = {
      {Record::Path(RecordKind::kRead, 1, "a\nb\\c"), "# filemon escape\nR 1 a\\nb\\\\c\n"},
      {Record::Path(RecordKind::kRead, 1, "it's"), "R 1 it's\n"},  // faithful: not escaped
      {Record::Path(RecordKind::kRead, 1, "a\\n"), "R 1 a\\n\n"},  // faithful: not escaped
      {Record::TwoPaths(RecordKind::kMove, 2, "it's", "b"), "# filemon escape\nM 2 'it\\'s' 'b'\n"},
      {Record::TwoPaths(RecordKind::kLink, 2, "a", "x\ny"), "# filemon escape\nL 2 'a' 'x\\ny'\n"},
      {Record::Comment(" filemon escape"), "# filemon escape\n# filemon escape\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::string out;
    AppendRecord(c.record, &out);
    EXPECT_EQ(out, c.text);
    EXPECT_LE(out.size(), MaxFormattedSize(c.record));
  }
}

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp", "/log",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fd_.reset(open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd_.valid());
  }
  std::string Contents() {
    std::string s;
    char buf[4096];
    ssize_t n;
    lseek(fd_.get(), 0, SEEK_SET);
    while ((n = read(fd_.get(), buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    return s;
  }
  std::string path_;
  OwnedFd fd_;
};

TEST_F(WriterTest, WritesHeaderRecordsFooter) {
  Writer w(fd_.get(), {});
  w.WriteHeader(53942, absl::FromUnixMicros(int64_t{1497269126786684}));
  w.Add(Record::Path(RecordKind::kExec, 65204, "/bin/sleep"));
  w.Add(Record::Exit(65204, 0, 0));
  w.WriteFooter(absl::FromUnixMicros(int64_t{1497269127857683}));
  EXPECT_EQ(Contents(), "");  // buffered until Close()
  ASSERT_TRUE(w.Close().ok());
  EXPECT_EQ(Contents(),
            "# filemon version 5\n# Target pid 53942\n# Start 1497269126.786684\nV 5\n"
            "E 65204 /bin/sleep\nX 65204 0 0\n# Stop 1497269127.857683\n# Bye bye\n");
}

TEST_F(WriterTest, EveryRecordPolicyWritesEachRecordAtOnce) {
  WriterOptions options;
  options.flush = FlushPolicy::kEveryRecord;
  Writer w(fd_.get(), options);
  w.Add(Record::Path(RecordKind::kRead, 1, "/a"));
  EXPECT_EQ(Contents(), "R 1 /a\n");
  w.Add(Record::Fork(1, 2));
  EXPECT_EQ(Contents(), "R 1 /a\nF 1 2\n");
  EXPECT_TRUE(w.Close().ok());
}

TEST_F(WriterTest, SmallBufferFlushesAndHugeRecordsStillWritten) {
  WriterOptions options;
  options.buffer_size = 256;
  Writer w(fd_.get(), options);
  std::string expected;
  const std::string huge(1000, 'p');
  for (int i = 0; i < 100; ++i) {
    const Record r =
        Record::Path(RecordKind::kRead, i, i % 10 == 0 ? absl::string_view(huge) : "/x/y");
    w.Add(r);
    AppendRecord(r, &expected);
  }
  ASSERT_TRUE(w.Close().ok());
  EXPECT_EQ(Contents(), expected);
}

TEST(Writer, ErrorIsStickyAndReturnedByClose) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);  // writes now fail with EPIPE
  signal(SIGPIPE, SIG_IGN);
  WriterOptions options;
  options.flush = FlushPolicy::kEveryRecord;
  options.own_fd = true;
  Writer w(fds[1], options);
  w.Add(Record::Path(RecordKind::kRead, 1, "/a"));
  EXPECT_FALSE(w.status().ok());
  const absl::Status first = w.status();
  w.Add(Record::Path(RecordKind::kRead, 1, "/b"));
  const absl::Status closed = w.Close();
  EXPECT_EQ(closed, first);
  EXPECT_NE(closed.message().find("write"), absl::string_view::npos) << closed;
}

TEST(Writer, BadFdFailsWithEbadf) {
  Writer w(-1, {});
  w.Add(Record::Path(RecordKind::kRead, 1, "/a"));
  const absl::Status s = w.Close();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Bad file descriptor"), absl::string_view::npos) << s;
}

TEST(Writer, FullDeviceReportsEnospc) {
  const int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "/dev/full is not available in this sandbox";
  WriterOptions options;
  options.own_fd = true;
  Writer w(fd, options);
  w.Add(Record::Path(RecordKind::kRead, 1, "/a"));
  const absl::Status s = w.Close();
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
}

TEST_F(WriterTest, SharedAppendLogKeepsRecordsWhole) {
  // Two writers on one O_APPEND log, flushing per record, as processes sharing a log do.
  const int fd2 = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  const int fd1 = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd1, 0);
  ASSERT_GE(fd2, 0);
  WriterOptions options;
  options.flush = FlushPolicy::kEveryRecord;
  options.own_fd = true;
  Writer a(fd1, options), b(fd2, options);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const Record ra = Record::Path(RecordKind::kRead, 1, "/from/a");
    const Record rb = Record::Path(RecordKind::kWrite, 2, "/from/b");
    a.Add(ra);
    b.Add(rb);
    AppendRecord(ra, &expected);
    AppendRecord(rb, &expected);
  }
  EXPECT_TRUE(a.Close().ok());
  EXPECT_TRUE(b.Close().ok());
  EXPECT_EQ(Contents(), expected);
}

void OnAlarm(int) {}

TEST(Writer, RetriesInterruptedAndShortWrites) {
  // A slow reader on a pipe and a 1 ms interval timer without SA_RESTART: write(2) of the
  // writer's 1 MiB buffer returns short counts and EINTR, and every byte must still arrive once.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  struct sigaction action = {};
  action.sa_handler = OnAlarm;  // no SA_RESTART
  struct sigaction old_action;
  ASSERT_EQ(sigaction(SIGALRM, &action, &old_action), 0);

  sigset_t alarm_set, old_set;
  sigemptyset(&alarm_set);
  sigaddset(&alarm_set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &alarm_set, &old_set);  // the reader inherits the block
  std::string got;
  std::thread reader([&] {
    char buf[16384];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      got.append(buf, static_cast<size_t>(n));
      usleep(200);
    }
  });
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  struct itimerval timer = {{0, 1000}, {0, 1000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &timer, nullptr), 0);

  std::string expected;
  {
    WriterOptions options;
    options.buffer_size = 1 << 20;
    options.own_fd = true;
    Writer w(fds[1], options);
    const std::string path(100, 'p');
    for (int i = 0; i < 30000; ++i) {
      const Record r = Record::Path(RecordKind::kRead, i, path);
      w.Add(r);
      AppendRecord(r, &expected);
    }
    EXPECT_TRUE(w.Close().ok()) << w.status();
  }
  struct itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  reader.join();
  close(fds[0]);
  sigaction(SIGALRM, &old_action, nullptr);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

}  // namespace
}  // namespace filemon
