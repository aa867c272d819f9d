#include "filemon/meta/meta_writer.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "filemon/meta/checker.h"
#include "filemon/meta/meta_file.h"
#include "filemon/meta/test_dir.h"
#include "gtest/gtest.h"

namespace filemon {
namespace meta {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The layout is bmake's own: compare with what Debian's bmake writes (without filemon).
TEST(FormatMeta, SameBytesAsBmake) {
  if (system("command -v bmake >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "bmake is not installed (Debian package bmake)";
  }
  TestDir dir("writer_golden");
  dir.Write("Makefile",
            ".MAKE.MODE= meta curdirOk=yes\n"
            "ok:\n\t@echo hello\n\t@echo bye > ${.TARGET}\n"
            "bad:\n\t@echo out; exit 4\n");
  ASSERT_EQ(system(absl::StrCat("cd '", dir.path(),
                                "' && env -u TMPDIR -u MAKEFLAGS bmake -r ok "
                                ">/dev/null 2>&1; env -u TMPDIR -u MAKEFLAGS "
                                "bmake -r bad >/dev/null 2>&1; true")
                       .c_str()),
            0);
  MetaHeader ok{dir / "ok.meta", {"@echo hello", "@echo bye > ok"}, dir.path(), "ok", "", {}};
  EXPECT_EQ(FormatMeta(ok, "hello\n", absl::nullopt, nullptr), Slurp(dir / "ok.meta"));
  MetaHeader bad{dir / "bad.meta", {"@echo out; exit 4"}, dir.path(), "bad", "", {}};
  EXPECT_EQ(FormatMeta(bad, "out\n", MetaError{4, false}, nullptr), Slurp(dir / "bad.meta"));
}

TEST(FormatMeta, OptionalRecordsAndFilemonSection) {
  MetaHeader h{"/o/x.meta", {"cc -c x.c"}, "/o", "x.o", "x.c", {"A=1"}};
  MetaLogBuffer log;
  AddHeader(42, absl::FromUnixSeconds(1600000000), &log);
  log.Add(Record::Path(RecordKind::kRead, 42, "/o/x.c"));
  AddFooter(absl::FromUnixSeconds(1600000001), &log);
  const std::string text = FormatMeta(h, "warning\n", MetaError{1, true}, &log.text());
  EXPECT_EQ(text,
            "# Meta data file /o/x.meta\nCMD cc -c x.c\nCWD /o\nTARGET x.o\nOODATE x.c\nENV A=1\n"
            "-- command output --\nwarning\n\n*** Error code 1(ignored)\n\n"
            "-- filemon acquired metadata --\n# filemon version 5\n# Target pid 42\n"
            "# Start 1600000000.000000\nV 5\nR 42 /o/x.c\n# Stop 1600000001.000000\n# Bye bye\n");
  const MetaFile m = ParseMetaFile(text);
  EXPECT_EQ(m.target.text, "x.o");
  EXPECT_EQ(*m.error_code, 1);
  EXPECT_EQ(m.filemon.line, 13u);
}

TEST(WriteMetaFile, WritesAtomicallyAndChecksUpToDate) {
  TestDir dir("writer_roundtrip");
  dir.Write("x.c", "int x;\n", 1600000000);
  dir.Write("x.o", "o", 1600000010);
  MetaLogBuffer log;
  AddHeader(7, absl::Now(), &log);
  log.Add(Record::Path(RecordKind::kRead, 7, "x.c"));
  log.Add(Record::Path(RecordKind::kWrite, 7, "x.o"));
  AddFooter(absl::Now(), &log);
  MetaHeader h{dir / "x.o.meta", {"cc -c x.c"}, dir.path(), "x.o", "", {}};
  ASSERT_TRUE(WriteMetaFile(h.meta_path, FormatMeta(h, "", absl::nullopt, &log.text())).ok());
  CheckOptions options;
  options.cwd = dir.path();
  options.commands = std::vector<CurrentCommand>{{"cc -c x.c", true}};
  absl::StatusOr<Checker> checker = Checker::Create(options);
  ASSERT_TRUE(checker.ok());
  absl::StatusOr<Decision> d = checker->CheckFile(h.meta_path);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->out_of_date) << (d->messages.empty() ? "" : d->messages[0]);
  dir.SetMtime("x.c", 1600000011);
  d = checker->CheckFile(h.meta_path);
  EXPECT_EQ(d->reason, Reason::kNewer);

  const absl::Status s = WriteMetaFile(dir / "no/such/dir/x.meta", "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir/x.meta"), absl::string_view::npos) << s.message();
}

}  // namespace
}  // namespace meta
}  // namespace filemon
