#include "filemon/backends/preload/record_dispatcher.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// Keeps each record as a line: "R 5 /a", "F 5 6", "X 5 0 9", "# text".
class LinesSink : public RecordSink {
 public:
  void Add(const Record& r) override {
    std::string line(1, RecordLetter(r.kind));
    switch (r.kind) {
      case RecordKind::kComment:
        absl::StrAppend(&line, r.path);
        break;
      case RecordKind::kFork:
        absl::StrAppend(&line, " ", r.pid, " ", r.child_pid);
        break;
      case RecordKind::kExit:
        absl::StrAppend(&line, " ", r.pid, " ", r.status, " ", r.signal);
        break;
      default:
        absl::StrAppend(&line, " ", r.pid, " ", r.path);
        if (!r.path2.empty()) absl::StrAppend(&line, " ", r.path2);
        break;
    }
    lines.push_back(line);
  }
  std::vector<std::string> lines;
};

// A message body of wire records, built as the interposer builds them.
class Body {
 public:
  Body& Path(WireKind kind, int32_t pid, const std::string& path) {
    WireRecord w{};
    w.kind = kind;
    w.pid = pid;
    w.len1 = static_cast<uint16_t>(path.size());
    Append(w);
    bytes_ += path;
    return *this;
  }
  Body& Fork(int32_t parent, int32_t child, uint32_t token) {
    WireRecord w{};
    w.kind = WireKind::kFork;
    w.pid = parent;
    w.child_pid = child;
    w.status = static_cast<int32_t>(token);
    Append(w);
    return *this;
  }
  // The F of a process whose environment names `alternate` (WireRecord::signal).
  Body& ForkWithAlternate(int32_t parent, int32_t child, int32_t alternate) {
    WireRecord w{};
    w.kind = WireKind::kFork;
    w.pid = parent;
    w.child_pid = child;
    w.signal = alternate;
    Append(w);
    return *this;
  }
  Body& Unenterable(int32_t pid) { return Path(WireKind::kUnenterable, pid, ""); }
  Body& Prepared(int32_t pid) { return Path(WireKind::kPrepared, pid, ""); }
  Body& Exit(int32_t pid, int32_t status) {
    Append(ExitRecord(pid, status));
    return *this;
  }
  static WireRecord ExitRecord(int32_t pid, int32_t status, int32_t signal = 0) {
    WireRecord w{};
    w.kind = WireKind::kExit;
    w.pid = pid;
    w.status = status;
    w.signal = signal;
    return w;
  }
  const std::string& bytes() const { return bytes_; }
  void SendTo(RecordDispatcher* dispatcher, const MessageSender& sender = {}) const {
    dispatcher->HandleRecords(bytes_.data(), bytes_.size(), sender);
  }

 private:
  void Append(const WireRecord& w) { bytes_.append(reinterpret_cast<const char*>(&w), sizeof(w)); }
  std::string bytes_;
};

using Lines = std::vector<std::string>;

TEST(RecordDispatcher, TurnsWireRecordsIntoRecords) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  Body()
      .Path(WireKind::kRead, 5, "/etc/passwd")
      .Path(WireKind::kComment, 5, " hi")
      .SendTo(&dispatcher);
  EXPECT_EQ(sink.lines, (Lines{"R 5 /etc/passwd", "# hi"}));
  EXPECT_TRUE(dispatcher.InTree(5));
  EXPECT_FALSE(dispatcher.InTree(6));
}

TEST(RecordDispatcher, WritesTheFirstFOfACreationOnly) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  Body().Fork(5, 6, 1).SendTo(&dispatcher);  // the child's side
  Body().Path(WireKind::kRead, 6, "/a").SendTo(&dispatcher);
  Body().Fork(5, 6, 1).SendTo(&dispatcher);                // the parent's side: dropped
  Body().Fork(5, 7, 0).Fork(5, 7, 0).SendTo(&dispatcher);  // token 0: each is the only F
  EXPECT_EQ(sink.lines, (Lines{"F 5 6", "R 6 /a", "F 5 7", "F 5 7"}));
  EXPECT_TRUE(dispatcher.InTree(6));
}

TEST(RecordDispatcher, OneXPerProcessWhicheverComesFirst) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  Body().Exit(5, 3).SendTo(&dispatcher);
  dispatcher.HandleExit(Body::ExitRecord(5, 3));        // the reaping: already written
  dispatcher.HandleExit(Body::ExitRecord(6, 0, 9));     // killed before writing its own
  Body().Fork(1, 5, 0).Exit(5, 0).SendTo(&dispatcher);  // pid 5 reused: its X again
  EXPECT_EQ(sink.lines, (Lines{"X 5 3 0", "X 6 0 9", "F 1 5", "X 5 0 0"}));
}

// The command's process whose exec failed before auto handed the run to ptrace is in no log.
TEST(RecordDispatcher, ADisownedProcessGetsNoX) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  dispatcher.Disown(5);
  dispatcher.HandleExit(Body::ExitRecord(5, 127));
  dispatcher.HandleExit(Body::ExitRecord(6, 0));
  EXPECT_EQ(sink.lines, (Lines{"X 6 0 0"}));
}

// A process of the log that ends by itself without its own X ran its last program untraced
// (one the interposer did not enter and the wrappers did not name): the log says so. Not for a
// process killed by a signal (it writes no X), nor for one named unenterable.
TEST(RecordDispatcher, AnExitWithoutTheProcesssOwnXIsNamed) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  Body().Fork(1, 5, 0).Fork(1, 6, 0).Fork(1, 7, 0).Unenterable(7).SendTo(&dispatcher);
  dispatcher.HandleExit(Body::ExitRecord(5, 3));
  dispatcher.HandleExit(Body::ExitRecord(6, 0, 9));
  dispatcher.HandleExit(Body::ExitRecord(7, 0));
  dispatcher.FlushHeldExits();
  ASSERT_EQ(sink.lines.size(), 7u);
  EXPECT_EQ(sink.lines[3].rfind("# filemon: pid 5 ran its last program untraced: ", 0), 0u)
      << sink.lines[3];
  EXPECT_EQ(sink.lines[4], "X 5 3 0");
  EXPECT_EQ(sink.lines[5], "X 6 0 9");
  EXPECT_EQ(sink.lines[6], "X 7 0 0");
}

// A static program (5, under 1) forks; its child shows itself after the program's exit, with
// the reaper (99) as its kernel parent: the F names the program, before the program's X.
TEST(RecordDispatcher, AnUnenterableProgramStandsForItsInvisibleForks) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  Body().Fork(1, 5, 0).Path(WireKind::kExec, 5, "/static").Unenterable(5).SendTo(&dispatcher);
  Body().Exit(5, 0).SendTo(&dispatcher);  // its parent reaped it: held
  dispatcher.HandleExit(Body::ExitRecord(5, 0));
  Body().ForkWithAlternate(99, 6, 5).Path(WireKind::kRead, 6, "hdr").SendTo(&dispatcher);
  Body().ForkWithAlternate(1, 7, 5).SendTo(&dispatcher);  // a parent of the log: kept
  Body().Exit(6, 0).SendTo(&dispatcher);
  EXPECT_FALSE(dispatcher.InTree(99));
  dispatcher.FlushHeldExits();
  EXPECT_EQ(sink.lines,
            (Lines{"F 1 5", "E 5 /static", "F 5 6", "R 6 hdr", "F 1 7", "X 6 0 0", "X 5 0 0"}));
}

TEST(RecordDispatcher, AHeldExitIsWrittenBeforeItsPidIsReused) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  Body().Fork(1, 5, 0).Unenterable(5).Exit(5, 2).SendTo(&dispatcher);
  Body().Fork(1, 5, 0).Exit(5, 0).SendTo(&dispatcher);  // a new process 5: not held
  dispatcher.FlushHeldExits();
  EXPECT_EQ(sink.lines, (Lines{"F 1 5", "X 5 2 0", "F 1 5", "X 5 0 0"}));
}

TEST(RecordDispatcher, AMalformedBodyKeepsItsGoodRecordsAndSaysSo) {
  LinesSink sink;
  RecordDispatcher dispatcher(&sink);
  std::string bytes = Body().Path(WireKind::kWrite, 5, "/out").bytes();
  bytes += "xx";  // a truncated record
  dispatcher.HandleRecords(bytes.data(), bytes.size());
  EXPECT_EQ(sink.lines, (Lines{"W 5 /out", "# preload: a malformed message from the interposer"}));
}

TEST(RecordDispatcher, RoutesEachTreeToItsOwnSink) {
  LinesSink first, second;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &first);
  dispatcher.AddRoot(20, &second);
  Body().Fork(10, 11, 1).Path(WireKind::kRead, 20, "/b").SendTo(&dispatcher);
  Body().Fork(11, 12, 0).Path(WireKind::kRead, 12, "/a").SendTo(&dispatcher);
  Body().Fork(10, 11, 1).SendTo(&dispatcher);
  dispatcher.HandleExit(Body::ExitRecord(12, 0, 9));  // killed: it wrote no X
  dispatcher.AddComment(20, " job 2");
  EXPECT_EQ(first.lines, (Lines{"F 10 11", "F 11 12", "R 12 /a", "X 12 0 9"}));
  EXPECT_EQ(second.lines, (Lines{"R 20 /b", "# job 2"}));
  EXPECT_EQ(dispatcher.unrouted(), 0u);
}

// Issue 18 for sessions: a checked sender writes only for its own tree's processes.
TEST(RecordDispatcher, ACheckedSenderWritesOnlyForItsOwnTree) {
  LinesSink first, second;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &first);
  dispatcher.AddRoot(20, &second);
  const MessageSender from_first{true, &first, 10};
  Body().Fork(10, 11, 1).Path(WireKind::kRead, 11, "/own").SendTo(&dispatcher, from_first);
  // Claims the other tree's process, then makes itself that process's child.
  Body().Path(WireKind::kWrite, 20, "/forged").SendTo(&dispatcher, from_first);
  Body().Fork(20, 11, 0).Path(WireKind::kWrite, 11, "/adopted").SendTo(&dispatcher, from_first);
  dispatcher.HandleExit(Body::ExitRecord(20, 0, 9), from_first);
  // A comment of no process (auto's helper forwards the ptrace backend's) is its sender's.
  Body().Path(WireKind::kComment, 0, " helper note").SendTo(&dispatcher, from_first);
  // A sender of no tree writes for nobody.
  Body()
      .Path(WireKind::kWrite, 20, "/stranger")
      .SendTo(&dispatcher, MessageSender{true, nullptr, 99});
  EXPECT_EQ(first.lines, (Lines{"F 10 11", "R 11 /own", "W 11 /adopted", "# helper note"}));
  EXPECT_TRUE(second.lines.empty());
  const RecordDispatcher::Refused refused = dispatcher.TakeRefused(&first);
  EXPECT_EQ(refused.count, 3u);
  EXPECT_EQ(refused.first_claimed, 20);
  EXPECT_EQ(refused.first_sender, 10);
  EXPECT_EQ(dispatcher.TakeRefused(&first).count, 0u);  // taken
  EXPECT_EQ(dispatcher.TakeRefused(nullptr).count, 1u);
  EXPECT_EQ(dispatcher.TakeRefused(&second).count, 0u);
}

TEST(RecordDispatcher, RecordsOfNoTreeAreDroppedAndCounted) {
  LinesSink sink;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &sink);
  Body().Path(WireKind::kRead, 99, "/x").Fork(99, 100, 0).SendTo(&dispatcher);
  dispatcher.HandleExit(Body::ExitRecord(99, 0));
  EXPECT_TRUE(sink.lines.empty());
  EXPECT_EQ(dispatcher.unrouted(), 3u);
  EXPECT_FALSE(dispatcher.InTree(99));
  EXPECT_FALSE(dispatcher.InTree(100));
}

TEST(RecordDispatcher, ARemovedSinkGetsNothingMore) {
  LinesSink job, fallback;
  RecordDispatcher dispatcher(&fallback);
  dispatcher.AddRoot(10, &job);
  Body().Fork(10, 11, 0).Path(WireKind::kRead, 11, "/a").SendTo(&dispatcher);
  dispatcher.RemoveSink(&job);
  Body().Path(WireKind::kRead, 11, "/late").SendTo(&dispatcher);
  EXPECT_EQ(job.lines, (Lines{"F 10 11", "R 11 /a"}));
  EXPECT_EQ(fallback.lines, (Lines{"R 11 /late"}));
}

TEST(RecordDispatcher, AReusedPidJoinsItsNewCreatorsTree) {
  LinesSink first, second;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &first);
  dispatcher.AddRoot(20, &second);
  Body().Fork(10, 30, 0).Path(WireKind::kRead, 30, "/a").Exit(30, 0).SendTo(&dispatcher);
  Body().Fork(20, 30, 0).Path(WireKind::kRead, 30, "/b").SendTo(&dispatcher);
  EXPECT_EQ(first.lines, (Lines{"F 10 30", "R 30 /a", "X 30 0 0"}));
  EXPECT_EQ(second.lines, (Lines{"F 20 30", "R 30 /b"}));
}

// A supervisor shared by many trees in turn: a root whose pid an earlier tree's process had
// (its own X written, its probes recorded, never reaped through the interposer) is a new
// process: its X and its probes are logged again.
TEST(RecordDispatcher, ANewRootIsNotTheEarlierProcessOfItsPid) {
  LinesSink first, second;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &first);
  Body().Path(WireKind::kNotFound, 10, "/absent").Exit(10, 0).SendTo(&dispatcher);
  dispatcher.RemoveSink(&first);
  dispatcher.AddRoot(10, &second);
  Body().Path(WireKind::kNotFound, 10, "/absent").Exit(10, 1).SendTo(&dispatcher);
  EXPECT_EQ(first.lines, (Lines{"N 10 /absent", "X 10 0 0"}));
  EXPECT_EQ(second.lines, (Lines{"N 10 /absent", "X 10 1 0"}));
}

// A root that prepared itself (a session's child) is forgotten with its tree, also when the
// supervisor never learnt its end (before Linux 6.15 it cannot): a long session keeps nothing
// per command, and a later root of the same pid that did not prepare itself gets no X.
TEST(RecordDispatcher, ARemovedTreeForgetsThatItsRootPrepared) {
  LinesSink first, second;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &first);
  Body().Prepared(10).SendTo(&dispatcher);
  dispatcher.RemoveSink(&first);
  dispatcher.AddRoot(10, &second);
  dispatcher.HandleRootExit(10, 0, 0);
  EXPECT_TRUE(first.lines.empty());
  EXPECT_TRUE(second.lines.empty()) << second.lines[0];
}

// A root whose end the supervisor could not learn is forgotten at its tree's end without an X,
// before the tree is removed.
TEST(RecordDispatcher, AForgottenRootIsNoLongerWanted) {
  LinesSink sink;
  RecordDispatcher dispatcher(/*fallback=*/nullptr);
  dispatcher.AddRoot(10, &sink);
  Body().Prepared(10).SendTo(&dispatcher);
  EXPECT_TRUE(dispatcher.WantsRootExit(10));
  dispatcher.ForgetRoot(10);
  EXPECT_FALSE(dispatcher.WantsRootExit(10));
  dispatcher.HandleRootExit(10, 0, 9);
  EXPECT_TRUE(sink.lines.empty()) << sink.lines[0];
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
