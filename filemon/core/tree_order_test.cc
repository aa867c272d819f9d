#include "filemon/core/tree_order.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "filemon/core/parser.h"
#include "filemon/core/record.h"
#include "gtest/gtest.h"

namespace filemon {
namespace {

TreeOrderOptions Roots(TreeRoots roots) {
  TreeOrderOptions options;
  options.roots = roots;
  return options;
}

// Feeds every record of `log` to a checker; returns its status.
absl::Status Check(absl::string_view log, TreeOrderOptions options = {}) {
  Parser parser(log, {});
  TreeOrderChecker checker(options);
  Record r;
  while (parser.Next(&r)) {
    if (!checker.Add(r, parser.line())) break;
  }
  EXPECT_TRUE(parser.ok()) << parser.status();
  return checker.status();
}

// A ptrace backend's log of `sh -c '(cd sub; cat hdr) & exit 0'`: the parent's F comes before
// its X even though the parent exits at once.
constexpr char kPtraceForkAndExit[] =
    "# filemon version 5\n"
    "# Target pid 18494\n"
    "# Start 1796562905.550322\n"
    "V 5\n"
    "E 18496 /usr/bin/sh\n"
    "R 18496 /etc/ld.so.cache\n"
    "R 18496 /lib/x86_64-linux-gnu/libc.so.6\n"
    "F 18496 18497\n"
    "X 18496 0 0\n"
    "R 18497 /dev/null\n"
    "C 18497 /tmp/ordx/sub\n"
    "E 18497 /usr/bin/cat\n"
    "R 18497 /etc/ld.so.cache\n"
    "R 18497 hdr\n"
    "X 18497 0 0\n"
    "# Stop 1796562905.590073\n"
    "# Bye bye\n";

// A gcc run's shape: sh, gcc, cc1 and as, nested, with A clues and comments.
constexpr char kPtraceGcc[] =
    "E 100 /usr/bin/sh\n"
    "F 100 101\n"
    "E 101 /usr/bin/gcc\n"
    "F 101 102\n"
    "E 102 /usr/lib/gcc/x86_64-linux-gnu/12/cc1\n"
    "A 102 local.h\n"
    "R 102 /tmp/gcc/local.h\n"
    "# filemon: a comment from a backend\n"
    "W 102 /tmp/ccX.s\n"
    "X 102 0 0\n"
    "F 101 103\n"
    "E 103 /usr/bin/as\n"
    "R 103 /tmp/ccX.s\n"
    "W 103 main.o\n"
    "X 103 0 0\n"
    "D 101 /tmp/ccX.s\n"
    "X 101 0 0\n"
    "M 100 'a' 'b'\n"
    "L 100 'b' 'c'\n"
    "X 100 0 0\n";

struct Case {
  const char* name;
  const char* log;
  TreeRoots roots;
  const char* error;  // "" when the log is in order
};

const Case kCases[] = {
    {"PtraceForkAndExit", kPtraceForkAndExit, TreeRoots::kFirstOnly, ""},
    {"PtraceGcc", kPtraceGcc, TreeRoots::kFirstOnly, ""},
    {"EmptyLog", "", TreeRoots::kFirstOnly, ""},
    {"HeaderOnly", "# filemon version 5\n# Target pid 3\nV 5\n", TreeRoots::kFirstOnly, ""},
    {"ChildOutlivesParent", "E 1 /bin/sh\nF 1 2\nX 1 0 0\nR 2 /x\nF 2 3\nX 2 0 0\nX 3 0 0\n",
     TreeRoots::kFirstOnly, ""},
    {"RootThatOnlyExits", "X 5 0 0\n", TreeRoots::kFirstOnly, ""},
    {"RootFirstSeenInItsF", "F 1 2\nR 2 /x\nX 2 0 0\nX 1 0 0\n", TreeRoots::kFirstOnly, ""},
    {"PidReusedAfterExit", "E 1 /bin/sh\nF 1 2\nX 2 0 0\nF 1 2\nR 2 /again\nX 2 0 0\nX 1 0 0\n",
     TreeRoots::kFirstOnly, ""},
    {"ExitedPidReusedByAnotherParent",
     "E 1 /bin/sh\nF 1 2\nF 1 3\nX 2 0 0\nF 3 2\nR 2 /x\nX 2 0 0\n", TreeRoots::kFirstOnly, ""},
    {"ClueAfterExitIsNeutral", "E 1 /bin/sh\nX 1 0 0\nA 1 rel\nV 5\n# a comment\n",
     TreeRoots::kFirstOnly, ""},
    {"SeveralRootsInAMeta", "E 1 /bin/sh\nX 1 0 0\nE 7 /bin/sh\nF 7 8\nX 8 0 0\nX 7 0 0\n",
     TreeRoots::kAny, ""},
    {"SecondRootInOneCommandsLog", "E 1 /bin/sh\nX 1 0 0\nE 7 /bin/sh\n", TreeRoots::kFirstOnly,
     "3: E 7 /bin/sh: pid 7 was not created by an F of the traced tree (its root is pid 1)"},
    {"ForkFromOutsideTheTree", "E 1 /bin/sh\nF 1 2\nF 999 3\nR 3 /x\n", TreeRoots::kFirstOnly,
     "3: F 999 3: parent 999 was not created by an F of the traced tree (its root is pid 1)"},
    {"ForkFromOutsideTheTreeInAMetaIsARoot", "E 1 /bin/sh\nF 1 2\nF 999 3\nR 3 /x\n",
     TreeRoots::kAny, ""},
    {"ForkAfterParentExit", "E 12 /bin/sh\nX 12 0 0\nF 12 13\nR 13 /x\n", TreeRoots::kAny,
     "3: F 12 13: parent 12 exited at line 2"},
    {"RecordAfterExit", "E 12 /bin/sh\nF 12 13\nX 13 0 0\nR 13 /x\n", TreeRoots::kAny,
     "4: R 13 /x: pid 13 exited at line 3"},
    {"ExitTwice", "E 12 /bin/sh\nX 12 0 0\nX 12 0 9\n", TreeRoots::kAny,
     "3: X 12 0 9: pid 12 exited at line 2"},
    {"TwoPathRecordAfterExit", "E 12 /bin/sh\nX 12 0 0\nM 12 'a' 'b'\n", TreeRoots::kAny,
     "3: M 12 'a' 'b': pid 12 exited at line 2"},
    {"ProbeAfterExitIsLikeARead", "E 12 /bin/sh\nX 12 0 0\nN 12 /gone\n", TreeRoots::kAny,
     "3: N 12 /gone: pid 12 exited at line 2"},
    {"ProbeBeforeItsF", "E 12 /bin/sh\nN 13 /x\nF 12 13\n", TreeRoots::kAny,
     "3: F 12 13: pid 13 already has records (line 2): its F must come first"},
    {"ChildRecordsBeforeItsF", "E 12 /bin/sh\nR 13 /x\nF 12 13\n", TreeRoots::kAny,
     "3: F 12 13: pid 13 already has records (line 2): its F must come first"},
    {"ChildRecordsBeforeItsFInOneCommandsLog", "E 12 /bin/sh\nR 13 /x\nF 12 13\n",
     TreeRoots::kFirstOnly,
     "2: R 13 /x: pid 13 was not created by an F of the traced tree (its root is pid 12)"},
    {"ForkedTwice", "E 12 /bin/sh\nF 12 13\nF 12 13\n", TreeRoots::kAny,
     "3: F 12 13: pid 13 was already created by the F at line 2"},
    {"ForkOfItself", "E 12 /bin/sh\nF 12 12\n", TreeRoots::kAny,
     "2: F 12 12: a process cannot create itself"},
    {"ParentIsTheChild", "F 12 13\nF 13 12\n", TreeRoots::kAny,
     "2: F 13 12: pid 12 already has records (line 1): its F must come first"},
    {"FirstViolationOnly", "E 12 /bin/sh\nX 12 0 0\nR 12 /a\nR 12 /b\n", TreeRoots::kAny,
     "3: R 12 /a: pid 12 exited at line 2"},
};

class TreeOrderTest : public ::testing::TestWithParam<Case> {};

TEST_P(TreeOrderTest, Check) {
  const Case& c = GetParam();
  absl::Status status = Check(c.log, Roots(c.roots));
  if (c.error[0] == '\0') {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_EQ(status.message(), c.error);
  }
}

INSTANTIATE_TEST_SUITE_P(Logs, TreeOrderTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(TreeOrderChecker, MessageNamesTheFile) {
  TreeOrderOptions options;
  options.filename = "build/foo.o.meta";
  absl::Status status = Check("E 12 /bin/sh\nX 12 0 0\nF 12 13\n", options);
  EXPECT_EQ(status.message(), "build/foo.o.meta:3: F 12 13: parent 12 exited at line 2");
}

TEST(TreeOrderChecker, LongPathsAreCutInMessages) {
  const std::string path(3000, 'p');
  absl::Status status =
      Check(absl::StrCat("E 1 /bin/sh\nX 1 0 0\nM 1 '", path, "' '", path, "'\n"));
  const std::string cut = absl::StrCat("'", std::string(80, 'p'), "...'");
  EXPECT_EQ(status.message(), absl::StrCat("3: M 1 ", cut, " ", cut, ": pid 1 exited at line 2"));
}

TEST(TreeOrderChecker, StopsAtTheFirstViolation) {
  TreeOrderChecker checker;
  EXPECT_TRUE(checker.Add(Record::Path(RecordKind::kExec, 1, "/bin/sh"), 1));
  EXPECT_TRUE(checker.Add(Record::Exit(1, 0, 0), 2));
  EXPECT_FALSE(checker.Add(Record::Path(RecordKind::kRead, 1, "/a"), 3));
  EXPECT_FALSE(checker.Add(Record::Path(RecordKind::kRead, 2, "/b"), 4));
  EXPECT_EQ(checker.status().message(), "3: R 1 /a: pid 1 exited at line 2");
}

// A million records from a few processes: the checker holds an entry per pid, none per record.
TEST(TreeOrderChecker, MemoryIsPerProcessNotPerRecord) {
  TreeOrderChecker checker(Roots(TreeRoots::kFirstOnly));
  size_t line = 0;
  ASSERT_TRUE(checker.Add(Record::Path(RecordKind::kExec, 1, "/bin/make"), ++line));
  for (int i = 0; i < 1000000; ++i) {
    ASSERT_TRUE(checker.Add(Record::Path(RecordKind::kRead, 1, "/src/x.h"), ++line));
  }
  EXPECT_EQ(checker.tracked_pids(), 1u);
  EXPECT_EQ(checker.live_pids(), 1u);
}

// A long build cycles through a bounded pid space: 200,000 children, at most 4 alive at once,
// pids wrapping at 1000. The entries stay bounded by the pid space, the live count by the tree.
TEST(TreeOrderChecker, MemoryIsBoundedByThePidsAPidSpaceCanHold) {
  TreeOrderChecker checker(Roots(TreeRoots::kFirstOnly));
  size_t line = 0;
  ASSERT_TRUE(checker.Add(Record::Path(RecordKind::kExec, 1, "/bin/make"), ++line));
  int64_t next = 2;
  size_t max_live = 0;
  for (int i = 0; i < 50000; ++i) {
    int64_t children[4];
    for (int64_t& child : children) {
      child = next;
      next = next == 1000 ? 2 : next + 1;
      ASSERT_TRUE(checker.Add(Record::Fork(1, child), ++line)) << checker.status();
      ASSERT_TRUE(checker.Add(Record::Path(RecordKind::kRead, child, "/src/x.c"), ++line));
    }
    max_live = std::max(max_live, checker.live_pids());
    for (int64_t child : children) {
      ASSERT_TRUE(checker.Add(Record::Exit(child, 0, 0), ++line)) << checker.status();
    }
  }
  ASSERT_TRUE(checker.Add(Record::Exit(1, 0, 0), ++line));
  EXPECT_EQ(max_live, 5u);
  EXPECT_EQ(checker.live_pids(), 0u);
  EXPECT_EQ(checker.tracked_pids(), 1000u);
}

}  // namespace
}  // namespace filemon
