// Message building (message.h) through the real channels (channel.h): a pipe and a
// SOCK_SEQPACKET socket pair stand where the supervisor's are, and what arrives is decoded
// with the supervisor's decoder (wire_format.h).

#include "filemon/backends/preload/message.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "filemon/backends/preload/channel.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/wire_format.h"
#include "gtest/gtest.h"

namespace filemon {
namespace preload_internal {
namespace {

struct Decoded {
  MessageType type;
  int sender;
  std::vector<std::string> records;  // "KIND pid path1[ path2]" or "F parent child token"
};

std::string Describe(const WireRecord& r, const char* p1, const char* p2) {
  const char kind = static_cast<char>(r.kind);
  if (r.kind == WireKind::kFork) {
    return "F " + std::to_string(r.pid) + " " + std::to_string(r.child_pid) + " " +
           std::to_string(r.status);
  }
  if (r.kind == WireKind::kExit) {
    return "X " + std::to_string(r.pid) + " " + std::to_string(r.status) + " " +
           std::to_string(r.signal);
  }
  std::string s =
      std::string(1, kind) + " " + std::to_string(r.pid) + " " + std::string(p1, r.len1);
  if (r.len2 > 0) s += " " + std::string(p2, r.len2);
  return s;
}

Decoded Decode(const char* data, size_t size) {
  Decoded d{};
  MessageHeader header;
  EXPECT_GE(size, sizeof(header));
  std::memcpy(&header, data, sizeof(header));
  EXPECT_EQ(header.size, size);
  d.type = header.type;
  d.sender = header.sender;
  if (header.type == MessageType::kDeferred || header.type == MessageType::kMarker) return d;
  EXPECT_TRUE(DecodeRecords(data + sizeof(header), size - sizeof(header),
                            [&](const WireRecord& r, const char* p1, const char* p2) {
                              d.records.push_back(Describe(r, p1, p2));
                            }));
  return d;
}

class MessageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(pipe2(pipe_, O_NONBLOCK | O_CLOEXEC), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, socket_), 0);
    g_pipe.store(pipe_[1]);
    g_fd.store(socket_[1]);
    g_pid.store(4242);
    t_pid = 0;
  }
  void TearDown() override {
    g_pipe.store(-1);
    g_fd.store(-1);
    for (int fd : {pipe_[0], pipe_[1], socket_[0], socket_[1]}) close(fd);
  }

  // The messages in the pipe, framed by their headers.
  std::vector<Decoded> FromPipe(std::vector<std::string>* raw = nullptr) {
    std::string bytes;
    char buffer[65536];
    ssize_t n;
    while ((n = read(pipe_[0], buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
    std::vector<Decoded> out;
    size_t pos = 0;
    while (pos + sizeof(MessageHeader) <= bytes.size()) {
      MessageHeader header;
      std::memcpy(&header, bytes.data() + pos, sizeof(header));
      if (header.size < sizeof(header) || pos + header.size > bytes.size()) break;
      out.push_back(Decode(bytes.data() + pos, header.size));
      if (raw != nullptr) raw->push_back(bytes.substr(pos, header.size));
      pos += header.size;
    }
    EXPECT_EQ(pos, bytes.size()) << "a partial message in the pipe";
    return out;
  }

  // The datagrams on the socket, undecoded.
  std::vector<std::string> FromSocket() {
    std::vector<std::string> out;
    char buffer[65536];
    ssize_t n;
    while ((n = recv(socket_[0], buffer, sizeof(buffer), 0)) > 0) out.emplace_back(buffer, n);
    return out;
  }

  int pipe_[2] = {-1, -1};
  int socket_[2] = {-1, -1};
};

TEST_F(MessageTest, OneCallsRecordsTravelInOneMessage) {
  Message m;
  m.AddLiteral(WireKind::kAt, 7, "rel", 3);
  m.Add(WireKind::kRead, 7, AT_FDCWD, "/etc/passwd");
  m.Add(WireKind::kMove, 7, AT_FDCWD, "/a", AT_FDCWD, "/b");
  m.Send();
  const std::vector<Decoded> got = FromPipe();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, MessageType::kRecords);
  EXPECT_EQ(got[0].sender, 4242);
  EXPECT_EQ(got[0].records, (std::vector<std::string>{"A 7 rel", "R 7 /etc/passwd", "M 7 /a /b"}));
  EXPECT_TRUE(FromSocket().empty());
}

TEST_F(MessageTest, EmptyMessageSendsNothing) {
  Message m;
  EXPECT_TRUE(m.empty());
  m.Send();
  EXPECT_TRUE(FromPipe().empty());
}

TEST_F(MessageTest, NumbersAndComments) {
  Message m(MessageType::kReaped);
  m.AddFork(10, 11, 3);
  m.AddExit(11, 2, 0);
  m.AddExit(12, 0, 9);
  m.AddComment("prog", " is ", "static");
  m.Send();
  const std::vector<Decoded> got = FromPipe();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, MessageType::kReaped);
  EXPECT_EQ(got[0].records, (std::vector<std::string>{"F 10 11 3", "X 11 2 0", "X 12 0 9",
                                                      "# 4242  preload: prog is static"}));
}

TEST_F(MessageTest, FullMessageSendsWhatItHoldsFirst) {
  // Each record is 24 + 300 bytes: the fourth does not fit in 1024 behind three.
  const std::string path = "/" + std::string(299, 'p');
  Message m;
  for (int i = 0; i < 5; ++i) m.Add(WireKind::kRead, i, AT_FDCWD, path.c_str());
  m.Send();
  const std::vector<Decoded> got = FromPipe();
  ASSERT_EQ(got.size(), 2u);
  std::vector<std::string> all;
  for (const Decoded& d : got) all.insert(all.end(), d.records.begin(), d.records.end());
  ASSERT_EQ(all.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all[i], "R " + std::to_string(i) + " " + path);
}

TEST_F(MessageTest, RecordLargerThanTheBufferGoesAloneInOrder) {
  const std::string big = "/" + std::string(2999, 'b');
  Message m;
  m.Add(WireKind::kRead, 1, AT_FDCWD, "/before");
  m.Add(WireKind::kWrite, 1, AT_FDCWD, big.c_str());
  m.Add(WireKind::kRead, 1, AT_FDCWD, "/after");
  m.Send();
  std::vector<std::string> all;
  for (const Decoded& d : FromPipe()) all.insert(all.end(), d.records.begin(), d.records.end());
  EXPECT_EQ(all, (std::vector<std::string>{"R 1 /before", "W 1 " + big, "R 1 /after"}));
}

TEST_F(MessageTest, MessageLargerThanThePipeIsDeferredBehindAMarker) {
  const std::string a = "/" + std::string(4095, 'a'), b = "/" + std::string(4095, 'b');
  Message m;
  m.Add(WireKind::kMove, 3, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str());
  m.Send();
  std::vector<std::string> raw;
  const std::vector<Decoded> markers = FromPipe(&raw);
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0].type, MessageType::kMarker);
  const std::vector<std::string> sent = FromSocket();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_GT(sent[0].size(), kDeferredPrefix);
  MessageHeader header;
  std::memcpy(&header, sent[0].data(), sizeof(header));
  EXPECT_EQ(header.type, MessageType::kDeferred);
  // The same id in the marker and in front of the message.
  EXPECT_EQ(raw[0].substr(sizeof(MessageHeader), 8), sent[0].substr(sizeof(MessageHeader), 8));
  const Decoded inner = Decode(sent[0].data() + kDeferredPrefix, sent[0].size() - kDeferredPrefix);
  EXPECT_EQ(inner.records, (std::vector<std::string>{"M 3 " + a + " " + b}));
}

TEST_F(MessageTest, ClosedPipeFallsBackToTheSocket) {
  close(pipe_[0]);
  pipe_[0] = -1;
  Message m;
  m.Add(WireKind::kDelete, 5, AT_FDCWD, "/gone");
  m.Send();
  EXPECT_EQ(g_pipe.load(), -1);
  const std::vector<std::string> sent = FromSocket();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Decode(sent[0].data(), sent[0].size()).records,
            (std::vector<std::string>{"D 5 /gone"}));
}

// What the start adopts as its channels (channel.h): a descriptor number the program reused
// for a file of its own is refused.
TEST_F(MessageTest, StartAdoptsOnlyASeqpacketSocketAndAPipe) {
  EXPECT_TRUE(IsOurSocket(socket_[1]));
  EXPECT_TRUE(IsOurPipe(pipe_[1]));
  int stream[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream), 0);
  const int file = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  EXPECT_FALSE(IsOurSocket(stream[0]));
  EXPECT_FALSE(IsOurSocket(pipe_[1]));
  EXPECT_FALSE(IsOurSocket(file));
  EXPECT_FALSE(IsOurPipe(stream[0]));
  EXPECT_FALSE(IsOurPipe(socket_[1]));
  EXPECT_FALSE(IsOurPipe(file));
  for (int fd : {stream[0], stream[1], file}) close(fd);
  EXPECT_FALSE(IsOurSocket(file));  // closed
  EXPECT_FALSE(IsOurPipe(file));
  EXPECT_FALSE(IsOurPipe(-1));
}

// A pipe's read end at the pipe's number passes IsOurPipe; the first write drops it, and that
// message and the later ones go through the socket in order.
TEST_F(MessageTest, ReadEndAtThePipesNumberIsDroppedByTheFirstWrite) {
  ASSERT_TRUE(IsOurPipe(pipe_[0]));
  g_pipe.store(pipe_[0]);
  Message first;
  first.Add(WireKind::kRead, 5, AT_FDCWD, "/first");
  first.Send();
  EXPECT_EQ(g_pipe.load(), -1);
  Message second;
  second.Add(WireKind::kRead, 5, AT_FDCWD, "/second");
  second.Send();
  const std::vector<std::string> sent = FromSocket();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(Decode(sent[0].data(), sent[0].size()).records,
            (std::vector<std::string>{"R 5 /first"}));
  EXPECT_EQ(Decode(sent[1].data(), sent[1].size()).records,
            (std::vector<std::string>{"R 5 /second"}));
}

TEST_F(MessageTest, PathsFollowThePathRules) {
  const int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  Message m;
  m.Add(WireKind::kRead, 1, root, "etc/hosts");
  m.Add(WireKind::kLink, 1, root, "target", root, "link", PathRule::kLiteral);
  m.Add(WireKind::kChdir, 1, root, "", AT_FDCWD, nullptr, PathRule::kDirectory);
  m.Send();
  close(root);
  const std::vector<Decoded> got = FromPipe();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].records,
            (std::vector<std::string>{"R 1 /etc/hosts", "L 1 target /link", "C 1 /"}));
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon
