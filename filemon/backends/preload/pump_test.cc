#include "filemon/backends/preload/pump.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filemon/backends/preload/pump_wait.h"
#include "filemon/backends/preload/record_dispatcher.h"
#include "filemon/backends/preload/supervisor_channel.h"
#include "filemon/backends/preload/wire_format.h"
#include "filemon/core/record.h"
#include "filemon/core/record_sink.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

// Keeps the paths of R records and the text of comments, in order.
class PathSink : public RecordSink {
 public:
  void Add(const Record& r) override { lines.push_back(std::string(r.path)); }
  std::vector<std::string> lines;
};

// Records the control messages, with how many records the sink had when each came.
class Control : public ControlHandler {
 public:
  explicit Control(const PathSink* sink) : sink_(sink) {}
  void OnControl(MessageType type, const WireRecord&) override {
    seen.push_back({type, sink_->lines.size()});
    if (type == MessageType::kDone) done_ = true;
  }
  void OnWake() override {}
  bool finished() const override { return done_; }
  struct Seen {
    MessageType type;
    size_t records_before;
  };
  std::vector<Seen> seen;

 private:
  const PathSink* sink_;
  bool done_ = false;
};

// One message of one R record, as the interposer builds it (`SendMessage` sets its size).
std::string ReadMessage(int32_t pid, const std::string& path) {
  MessageHeader header{};
  header.type = MessageType::kRecords;
  header.sender = pid;
  WireRecord w{};
  w.kind = WireKind::kRead;
  w.pid = pid;
  w.len1 = static_cast<uint16_t>(path.size());
  std::string m(reinterpret_cast<const char*>(&header), sizeof(header));
  m.append(reinterpret_cast<const char*>(&w), sizeof(w));
  return m + path;
}

// A control message, as the reaper sends it.
std::string ControlBytes(MessageType type) {
  const ControlMessage message = MakeControlMessage(type, 1, 0, 0, 0);
  return std::string(reinterpret_cast<const char*>(&message), sizeof(message));
}

class PumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<SupervisorChannel> opened = SupervisorChannel::Open();
    ASSERT_TRUE(opened.ok()) << opened.status();
    channel_.emplace(*std::move(opened));
    ASSERT_GE(channel_->pipe(), 0) << "no pipe here";
    pipe_ = channel_->child_pipe();
  }
  // Sends as a traced process would: through the pipe when it fits, else deferred.
  void Send(std::string message) {
    SendMessage(&message[0], message.size(), &pipe_, channel_->child_socket(), &deferred_);
  }

  absl::optional<SupervisorChannel> channel_;
  int pipe_ = -1;
  uint32_t deferred_ = 0;
  PathSink sink_;
  RecordDispatcher dispatcher_{&sink_};
  Control control_{&sink_};
};

TEST_F(PumpTest, ALargeMessageKeepsItsPlaceBetweenPipeMessages) {
  const std::string big(kMaxPipeMessage, 'b');
  Send(ReadMessage(7, "/a"));
  Send(ReadMessage(7, big));  // over PIPE_BUF: through the socket, behind a marker
  Send(ReadMessage(7, "/c"));
  EXPECT_EQ(deferred_, 1u);
  Pump pump(&*channel_, &dispatcher_, &control_);
  pump.Finish();
  EXPECT_EQ(sink_.lines, (std::vector<std::string>{"/a", big, "/c"}));
}

TEST_F(PumpTest, ControlMessagesFromTracedProcessesAreIgnoredAndCounted) {
  std::string forged = ControlBytes(MessageType::kRootExit);
  ASSERT_EQ(write(pipe_, forged.data(), forged.size()), static_cast<ssize_t>(forged.size()));
  ASSERT_EQ(send(channel_->child_socket(), forged.data(), forged.size(), 0),
            static_cast<ssize_t>(forged.size()));
  Pump pump(&*channel_, &dispatcher_, &control_);
  pump.Finish();
  EXPECT_TRUE(control_.seen.empty());
  EXPECT_EQ(pump.forged(), 2u);
}

TEST_F(PumpTest, RunStopsAtTheReapersEndAfterTheRecordsSentBeforeIt) {
  Send(ReadMessage(7, "/a"));
  Send(ReadMessage(8, "/b"));
  const std::string started = ControlBytes(MessageType::kRootStarted);
  const std::string done = ControlBytes(MessageType::kDone);
  for (const std::string* m : {&started, &done}) {
    ASSERT_EQ(send(channel_->control_child(), m->data(), m->size(), 0),
              static_cast<ssize_t>(m->size()));
  }
  Pump pump(&*channel_, &dispatcher_, &control_);
  PollWait wait(channel_->pipe(), [] { return false; });
  ASSERT_TRUE(pump.Run(&wait, /*wake_fd=*/-1).ok());
  ASSERT_EQ(control_.seen.size(), 2u);
  EXPECT_EQ(control_.seen[0].type, MessageType::kRootStarted);
  EXPECT_EQ(control_.seen[0].records_before, 2u);
  EXPECT_EQ(control_.seen[1].type, MessageType::kDone);
  EXPECT_TRUE(pump.status().ok());
}

TEST_F(PumpTest, AMarkerWithoutItsMessageIsNamedInTheLog) {
  char marker[kDeferredPrefix];
  MakeDeferredPrefix(marker, MessageType::kMarker, DeferredId(9, 1), 0, 9);
  ASSERT_EQ(write(pipe_, marker, sizeof(marker)), static_cast<ssize_t>(sizeof(marker)));
  Pump pump(&*channel_, &dispatcher_, &control_);
  pump.Finish();
  ASSERT_EQ(sink_.lines.size(), 1u);
  EXPECT_EQ(sink_.lines[0], " preload: a message of process 9 was lost (its marker came alone)");
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
