#include "filemon/core/parser.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filemon/core/record.h"
#include "filemon/core/writer.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

std::vector<Record> ParseAll(Parser* parser, std::deque<std::string>* keep) {
  std::vector<Record> out;
  Record r;
  while (parser->Next(&r)) {
    // Escaped paths live in the parser's scratch until the next call: keep copies (a deque
    // never moves its elements).
    keep->emplace_back(r.path);
    r.path = keep->back();
    keep->emplace_back(r.path2);
    r.path2 = keep->back();
    out.push_back(r);
  }
  return out;
}

std::string Format(const std::vector<Record>& records) {
  std::string s;
  for (const Record& r : records) AppendRecord(r, &s);
  return s;
}

// A FreeBSD current v5 log, as printed in the Freaky/ruby-filemon README.
constexpr absl::string_view kFreeBsdV5 =
    "# filemon version 5\n"
    "# Target pid 53942\n"
    "# Start 1497269126.786684\n"
    "V 5\n"
    "E 65204 /bin/sleep\n"
    "R 65204 /etc/libmap.conf\n"
    "R 65204 /usr/local/etc/libmap.d\n"
    "R 65204 /var/run/ld-elf.so.hints\n"
    "R 65204 /lib/libc.so.7\n"
    "X 65204 0 0\n"
    "# Stop 1497269127.857683\n"
    "# Bye bye\n";

TEST(Parser, FreeBsdV5ExampleRoundTripsByteForByte) {
  Parser parser(kFreeBsdV5, {});
  std::deque<std::string> keep;
  std::vector<Record> records = ParseAll(&parser, &keep);
  ASSERT_TRUE(parser.ok()) << parser.status();
  ASSERT_EQ(records.size(), 12u);
  EXPECT_EQ(records[0].kind, RecordKind::kHeaderVersion);
  EXPECT_EQ(records[1].pid, 53942);
  EXPECT_EQ(records[4], Record::Path(RecordKind::kExec, 65204, "/bin/sleep"));
  EXPECT_EQ(records[9], Record::Exit(65204, 0, 0));
  EXPECT_EQ(Format(records), kFreeBsdV5);
  EXPECT_EQ(parser.variant(), LogVariant::kFreeBsdV5);
  EXPECT_EQ(parser.version(), 5);
  EXPECT_FALSE(parser.truncated());
}

TEST(Parser, OnePathRecordsKeepSpacesAndAreZeroCopy) {
  const std::string log = "R 7 /a b/c d \n";
  Parser parser(log, {});
  Record r;
  ASSERT_TRUE(parser.Next(&r));
  EXPECT_EQ(r.path, "/a b/c d ");
  EXPECT_GE(r.path.data(), log.data());
  EXPECT_LT(r.path.data(), log.data() + log.size());
}

TEST(Parser, StrictAcceptsProbesAndTheyRoundTrip) {
  const std::string log =
      "# filemon version 5\n# Target pid 7\n# Start 1.000000\nV 5\nE 7 /bin/cc\n"
      "N 7 inc1/same.h\nR 7 inc2/same.h\n# filemon escape\nN 7 a\\nb\nX 7 0 0\n"
      "# Stop 2.000000\n# Bye bye\n";
  Parser parser(log, {});
  std::deque<std::string> keep;
  std::vector<Record> records = ParseAll(&parser, &keep);
  ASSERT_TRUE(parser.ok()) << parser.status();
  EXPECT_EQ(records[5], Record::Path(RecordKind::kNotFound, 7, "inc1/same.h"));
  EXPECT_EQ(records[7], Record::Path(RecordKind::kNotFound, 7, "a\nb"));
  EXPECT_EQ(Format(records), log);
  EXPECT_EQ(parser.variant(), LogVariant::kFreeBsdV5);
}

TEST(Parser, StrictErrorNamesFileLineColumnAndExpectation) {
  ParserOptions options;
  options.filename = "f.log";
  const std::string log = "R 1 /a\nF 1 x\nR 2 /b\n";
  Parser parser(log, options);
  Record r;
  ASSERT_TRUE(parser.Next(&r));
  EXPECT_FALSE(parser.Next(&r));
  EXPECT_FALSE(parser.ok());
  EXPECT_EQ(parser.status().message(), "f.log:2:5: expected the child pid");
}

TEST(Parser, LenientSkipsAndCountsBadLines) {
  ParserOptions options;
  options.strict = false;
  const std::string log = "R 1 /a\nQ 1 x\nX 1\nR 2 /b\n";
  Parser parser(log, options);
  std::deque<std::string> keep;
  std::vector<Record> records = ParseAll(&parser, &keep);
  EXPECT_TRUE(parser.ok());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(parser.skipped_lines(), 2u);
  EXPECT_EQ(parser.first_skipped_error().message(),
            "-:2:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'");
}

TEST(Parser, CrashTailIsKeptRawNeverARecord) {
  // "/etc/pas" of a cut "/etc/passwd" parses, but is not the record that was written.
  Parser a("R 1 /a\nR 2 /etc/pas", {});
  std::deque<std::string> keep;
  EXPECT_EQ(ParseAll(&a, &keep).size(), 1u);
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(a.truncated());
  EXPECT_EQ(a.tail(), "R 2 /etc/pas");
  EXPECT_FALSE(a.complete());
  Parser b("R 1 /a\nX 2", {});
  EXPECT_EQ(ParseAll(&b, &keep).size(), 1u);
  EXPECT_TRUE(b.ok());
  EXPECT_EQ(b.tail(), "X 2");
  // A caller that hands over one line without its newline reads it as a record.
  ParserOptions record_last;
  record_last.unterminated_last_line = UnterminatedLine::kRecord;
  Parser c("R 2 /b", record_last);
  EXPECT_EQ(ParseAll(&c, &keep).size(), 1u);
  EXPECT_TRUE(c.truncated());
  EXPECT_EQ(c.tail(), "");
}

TEST(Parser, IncompleteWithoutFooterIsNotAnError) {
  std::deque<std::string> keep;
  for (const absl::string_view log : {"", "R 1 /a\n", "# filemon version 5\n# Stop 1.000000\n"}) {
    Parser parser(log, {});
    ParseAll(&parser, &keep);
    EXPECT_TRUE(parser.ok()) << log;
    EXPECT_FALSE(parser.complete()) << log;
    EXPECT_FALSE(parser.truncated()) << log;
  }
  Parser whole(kFreeBsdV5, {});
  ParseAll(&whole, &keep);
  EXPECT_TRUE(whole.complete());
}

// A NetBSD kernel v4 log, verbatim from NetBSD share/man/man4/filemon.4 rev 1.6:
// the "..." line is the man page's elision, not part of a log.
constexpr absl::string_view kNetBsdV4 =
    "# filemon version 4\n"
    "# Target pid 24291\n"
    "V 4\n"
    "E 29676 /bin/sh\n"
    "R 29676 /etc/ld.so.conf\n"
    "R 29676 /lib/libedit.so.2\n"
    "R 29676 /lib/libtermcap.so.0\n"
    "R 29676 /lib/libc.so.12\n"
    "F 29676 4899\n"
    "E 4899 /usr/bin/wc\n"
    "R 4899 /etc/ld.so.conf\n"
    "R 4899 /usr/lib/libc.so.12\n"
    "R 4899 /etc/motd\n"
    "X 4899 0\n"
    "W 29676 foo.h.new\n"
    "X 29676 0\n"
    "# Bye bye\n"
    "E 3250 /bin/sh\n"
    "...\n"
    "M 576 'foo.h.new' 'foo.h'\n"
    "X 576 0\n"
    "X 3250 0\n"
    "# Bye bye\n";

TEST(Parser, NetBsdV4ExampleParses) {
  ParserOptions lenient;
  lenient.strict = false;
  Parser parser(kNetBsdV4, lenient);
  std::deque<std::string> keep;
  std::vector<Record> records = ParseAll(&parser, &keep);
  EXPECT_TRUE(parser.ok());
  ASSERT_EQ(records.size(), 22u);
  EXPECT_EQ(parser.skipped_lines(), 1u);  // "..."
  EXPECT_EQ(parser.first_skipped_error().message(),
            "-:19:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'");
  EXPECT_EQ(records[8], Record::Fork(29676, 4899));
  Record x;
  x.kind = RecordKind::kExit;
  x.pid = 4899;
  EXPECT_EQ(records[13], x);
  EXPECT_FALSE(records[13].has_signal);
  EXPECT_EQ(records[14], Record::Path(RecordKind::kWrite, 29676, "foo.h.new"));
  EXPECT_EQ(records[18], Record::TwoPaths(RecordKind::kMove, 576, "foo.h.new", "foo.h"));
  EXPECT_EQ(parser.variant(), LogVariant::kNetBsdKernel);
  EXPECT_EQ(parser.version(), 4);

  // Without the elision the log is in the grammar, and strict mode reads all of it.
  std::string log(kNetBsdV4);
  log.erase(log.find("...\n"), 4);
  Parser strict(log, {});
  EXPECT_EQ(ParseAll(&strict, &keep).size(), 22u);
  EXPECT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(strict.variant(), LogVariant::kNetBsdKernel);
}

TEST(Parser, OnlyEventHandlerProducersKeepTheTreeOrder) {
  EXPECT_TRUE(KeepsTreeOrder(LogVariant::kFreeBsdV5));
  EXPECT_TRUE(KeepsTreeOrder(LogVariant::kFreeBsd10));
  EXPECT_TRUE(KeepsTreeOrder(LogVariant::kUnknown));
  EXPECT_FALSE(KeepsTreeOrder(LogVariant::kFreeBsd9));
  EXPECT_FALSE(KeepsTreeOrder(LogVariant::kNetBsdKernel));
  EXPECT_FALSE(KeepsTreeOrder(LogVariant::kKtrace));
  EXPECT_FALSE(KeepsTreeOrder(LogVariant::kJuniperLinux));
}

TEST(Parser, DetectsEveryVariant) {
  struct Case {
    const char* name;
    const char* log;
    LogVariant variant;
    int64_t version;
  } cases[] = {
      {"freebsd v5", "# filemon version 5\n# Target pid 1\n# Start 1.000000\nV 5\nX 2 0 0\n",
       LogVariant::kFreeBsdV5, 5},
      {"freebsd 10.x: wait-encoded two-field X",
       "# filemon version 5\n# Target pid 1\n# Start 1.000000\nV 5\nX 2 256\n",
       LogVariant::kFreeBsd10, 5},
      {"freebsd 9.x: v4 with Start",
       "# filemon version 4\n# Target pid 1\n# Start 1.000000\nV 4\nX 2 1\n", LogVariant::kFreeBsd9,
       4},
      {"freebsd 9.x: S records", "V 4\nS 2 /etc\n", LogVariant::kFreeBsd9, 4},
      {"netbsd kernel: header and V disagree (filemon.4 rev 1.5)",
       "# filemon version 2\n# Target pid 7437\nV 4\nE 21848 /bin/cat\nR 21848 /lib/libc.so.12\n"
       "R 21848 /etc/motd\nX 21848 0\n# Bye bye\n",
       LogVariant::kNetBsdKernel, 4},
      {"netbsd kernel: v5", "# filemon version 5\n# Target pid 1\nV 5\nX 2 0\n# Bye bye\n",
       LogVariant::kNetBsdKernel, 5},
      {"netbsd kernel: records after # Bye bye",
       "# filemon version 4\n# Target pid 1\nV 4\nX 2 0\n# Bye bye\nX 3 0\n# Bye bye\n",
       LogVariant::kNetBsdKernel, 4},
      {"ktrace", "# filemon version 4\n# Target pid 1\nV 4\nE 2 /bin/sh\nX 2 0\n# Bye bye\n",
       LogVariant::kKtrace, 4},
      {"juniper linux",
       "# buildmon version 4\n# Target pid 1\n# Start 1.000000\nV 4\nX 2 0\n# Stop 1.000001\n"
       "# Bye bye\n",
       LogVariant::kJuniperLinux, 4},
      {"records only", "R 1 /a\nX 1 0\n", LogVariant::kUnknown, 0},
      {"empty", "", LogVariant::kUnknown, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Parser parser(c.log, {});
    std::deque<std::string> keep;
    ParseAll(&parser, &keep);
    EXPECT_TRUE(parser.ok()) << parser.status();
    EXPECT_EQ(parser.variant(), c.variant) << LogVariantName(parser.variant());
    EXPECT_EQ(parser.version(), c.version);
  }
}

TEST(Parser, StrictErrorsSayWhereAndWhatWasExpected) {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"\n", "f:1:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'"},
      {"Q 1 /a\n", "f:1:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'"},
      {"R1 /a\n", "f:1:2: expected ' ' after the record letter"},
      {"R x /a\n", "f:1:3: expected a pid"},
      {"R 12\n", "f:1:5: expected ' ' after the pid"},
      {"R 99999999999999999999 /a\n", "f:1:3: expected a pid"},
      {"F 1 2 3\n", "f:1:6: expected the end of the line after the child pid"},
      {"X 1\n", "f:1:4: expected ' ' after the pid"},
      {"X 1 a\n", "f:1:5: expected the exit status"},
      {"X 1 0 \n", "f:1:7: expected the signal number"},
      {"X 1 0 9 9\n", "f:1:8: expected the end of the line after the signal"},
      {"V x\n", "f:1:3: expected a version number to end the line"},
      {"M 1 a b\n", "f:1:5: expected ' to open the first path"},
      {"M 1 'a' 'b\n", "f:1:11: expected ' to close the second path"},
      {"M 1 'a''b'\n", "f:1:6: expected \"' '\" between the two paths"},
      {"# filemon escape\nR 1 a\\x\n", "f:2:6: expected an escape \\\\, \\n or \\'"},
      {"# filemon escape\nM 1 'a' 'b' \n", "f:2:12: expected the end of the line after the path"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ParserOptions options;
    options.filename = "f";
    Parser parser(c.line, options);
    Record r;
    EXPECT_FALSE(parser.Next(&r));
    EXPECT_EQ(parser.status().message(), c.error);
    EXPECT_TRUE(absl::IsInvalidArgument(parser.status()));
    EXPECT_FALSE(parser.Next(&r));  // stays failed
  }
}

TEST(Parser, UnescapesWhatTheWriterEscaped) {
  const std::vector<Record> records = {
      Record::Path(RecordKind::kRead, 1, "new\nline"),
      Record::Path(RecordKind::kWrite, 1, "back\\slash\nand newline"),
      Record::Path(RecordKind::kExec, 1, "trailing\\"),
      Record::TwoPaths(RecordKind::kMove, 2, "it's", "x' 'y"),
      Record::TwoPaths(RecordKind::kLink, 2, "'", "\\'\n"),
      Record::Comment(" filemon escape"),
      Record::Comment(" two\nlines"),
      Record::Comment(" Start 1.000000"),
      Record::Comment(" Bye bye"),
  };
  const std::string log = Format(records);
  Parser parser(log, {});
  std::deque<std::string> keep;
  EXPECT_EQ(ParseAll(&parser, &keep), records);
  EXPECT_TRUE(parser.ok()) << parser.status();
}

TEST(Parser, TwoPathRecordsFromForeignLogsSplitAtTheFirstSeparator) {
  // A quote in an unescaped L/M path (a log not written by this library): the first "' '"
  // splits, as the writer would never have produced the ambiguity.
  Parser parser("M 1 'a'b' 'c d'\nL 1 '' ''\n", {});
  Record r;
  ASSERT_TRUE(parser.Next(&r));
  EXPECT_EQ(r.path, "a'b");
  EXPECT_EQ(r.path2, "c d");
  ASSERT_TRUE(parser.Next(&r));
  EXPECT_EQ(r.path, "");
  EXPECT_EQ(r.path2, "");
}

// Random records of every kind, with paths full of the bytes that need care.
class RandomRecords {
 public:
  explicit RandomRecords(uint64_t seed) : rng_(seed) {}

  Record Next(std::deque<std::string>* keep) {
    Record r;
    r.kind = static_cast<RecordKind>(Uniform(static_cast<int>(RecordKind::kNotFound) + 1));
    switch (r.kind) {
      case RecordKind::kFork:
        r.pid = Int();
        r.child_pid = Int();
        break;
      case RecordKind::kExit:
        r.pid = Int();
        r.status = Int();
        r.has_signal = Uniform(2) == 0;
        if (r.has_signal) r.signal = Int();
        break;
      case RecordKind::kVersion:
      case RecordKind::kHeaderVersion:
        r.version = Int();
        if (r.kind == RecordKind::kHeaderVersion) r.path = Uniform(2) ? "filemon" : "buildmon";
        break;
      case RecordKind::kTargetPid:
        r.pid = Int();
        break;
      case RecordKind::kStart:
      case RecordKind::kStop:
        r.seconds = Int() & INT64_MAX;
        r.microseconds = Uniform(1000000);
        break;
      case RecordKind::kByeBye:
        break;
      case RecordKind::kComment:
        r.path = Path(keep);
        break;
      default:
        r.pid = Int();
        r.path = Path(keep);
        if (HasTwoPaths(r.kind)) r.path2 = Path(keep);
    }
    return r;
  }

 private:
  int Uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  int64_t Int() {
    switch (Uniform(4)) {
      case 0:
        return Uniform(100);
      case 1:
        return Uniform(100000);
      case 2:
        return -Uniform(1000);
      default:
        return static_cast<int64_t>(rng_());
    }
  }
  absl::string_view Path(std::deque<std::string>* keep) {
    static constexpr absl::string_view kPieces[] = {
        "/",
        "usr",
        "lib",
        " ",
        "\n",
        "'",
        "\\",
        "\\n",
        "' '",
        "#",
        "é",
        "\xff",
        "\t",
        "\r",
        "..",
        "a b",
        "filemon escape",
        "''",
        "\\'",
        "x",
    };
    std::string path;
    if (Uniform(8) == 0) path = " filemon escape";  // the marker's text, as a comment
    const int n = Uniform(8);
    for (int i = 0; i < n; ++i) {
      const absl::string_view piece = kPieces[Uniform(sizeof kPieces / sizeof kPieces[0])];
      path.append(piece.data(), piece.size());
    }
    keep->push_back(std::move(path));
    return keep->back();
  }

  std::mt19937_64 rng_;
};

TEST(Parser, PropertyRandomRecordsRoundTripThroughWriter) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(seed);
    RandomRecords random(seed);
    std::deque<std::string> keep;
    std::vector<Record> records;
    for (int i = 0; i < 200; ++i) records.push_back(random.Next(&keep));
    const std::string log = Format(records);
    Parser parser(log, {});
    const std::vector<Record> parsed = ParseAll(&parser, &keep);
    ASSERT_TRUE(parser.ok()) << parser.status();
    ASSERT_EQ(parsed.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      ASSERT_EQ(parsed[i], records[i]) << "record " << i << ": " << Format({records[i]});
    }
    EXPECT_FALSE(parser.truncated());
  }
}

TEST(Parser, TruncationSweepReturnsEveryRecordBeforeTheCut) {
  RandomRecords random(7);
  std::deque<std::string> keep;
  std::vector<Record> records;
  std::vector<size_t> ends;  // end offset of each record's text, escape marker included
  std::string log;
  for (int i = 0; i < 60; ++i) {
    records.push_back(random.Next(&keep));
    AppendRecord(records.back(), &log);
    ends.push_back(log.size());
  }
  log.insert(0, std::string(kFreeBsdV5));
  for (size_t& end : ends) end += kFreeBsdV5.size();
  Parser whole(kFreeBsdV5, {});
  std::vector<Record> expected = ParseAll(&whole, &keep);
  std::vector<size_t> expected_ends;
  for (size_t pos = 0; pos < kFreeBsdV5.size(); pos = kFreeBsdV5.find('\n', pos) + 1) {
    expected_ends.push_back(kFreeBsdV5.find('\n', pos) + 1);
  }
  expected.insert(expected.end(), records.begin(), records.end());
  expected_ends.insert(expected_ends.end(), ends.begin(), ends.end());
  ASSERT_EQ(expected.size(), expected_ends.size());

  for (size_t cut = 0; cut <= log.size(); ++cut) {
    SCOPED_TRACE(cut);
    // A copy of exactly `cut` bytes, so that reading past the end is a sanitizer error.
    const std::unique_ptr<char[]> copy(new char[cut + 1]);
    std::memcpy(copy.get(), log.data(), cut);
    Parser parser(absl::string_view(copy.get(), cut), {});
    const std::vector<Record> got = ParseAll(&parser, &keep);
    ASSERT_TRUE(parser.ok()) << parser.status();  // a cut is never a strict error
    size_t complete = 0;
    while (complete < expected_ends.size() && expected_ends[complete] <= cut) ++complete;
    ASSERT_EQ(got.size(), complete);  // never the cut record itself
    for (size_t i = 0; i < complete; ++i) ASSERT_EQ(got[i], expected[i]) << i;
    const bool at_line_end = cut == 0 || log[cut - 1] == '\n';
    EXPECT_EQ(parser.truncated(), !at_line_end);
    if (!at_line_end) {
      const size_t line_start = log.rfind('\n', cut - 1);
      const size_t start = line_start == std::string::npos ? 0 : line_start + 1;
      EXPECT_EQ(parser.tail(), absl::string_view(log).substr(start, cut - start));
    }
  }
}

TEST(MappedFile, MapsAndParsesAFile) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/mapped.log";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fwrite(kFreeBsdV5.data(), 1, kFreeBsdV5.size(), f);
  fclose(f);
  absl::StatusOr<MappedFile> file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  MappedFile moved = std::move(*file);
  EXPECT_EQ(moved.data(), kFreeBsdV5);
  Parser parser(moved.data(), {});
  std::deque<std::string> keep;
  EXPECT_EQ(ParseAll(&parser, &keep).size(), 12u);

  const std::string empty = std::string(getenv("TEST_TMPDIR")) + "/empty.log";
  fclose(fopen(empty.c_str(), "w"));
  absl::StatusOr<MappedFile> e = MappedFile::Open(empty);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->data().empty());
}

TEST(MappedFile, ReadsPipesToTheEnd) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string big(200000, 'x');  // more than one read(2) and one buffer growth
  std::thread writer([&] {
    for (size_t done = 0; done < big.size();) {
      const ssize_t n = write(fds[1], big.data() + done, big.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
  });
  absl::StatusOr<MappedFile> file = MappedFile::Open("/dev/fd/" + std::to_string(fds[0]));
  writer.join();
  close(fds[0]);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->data(), big);
}

TEST(MappedFile, ErrorsNameTheCallAndPath) {
  absl::StatusOr<MappedFile> file = MappedFile::Open("/nonexistent/filemon.out");
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(absl::IsNotFound(file.status())) << file.status();
  EXPECT_EQ(file.status().message(), "open(/nonexistent/filemon.out): No such file or directory");
}

}  // namespace
}  // namespace filemon
