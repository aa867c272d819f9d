#include "filemon/backends/preload/pump.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "filemon/backends/preload/proc_tree.h"

namespace filemon {
namespace preload_internal {

Pump::Pump(SupervisorChannel* channel, RecordDispatcher* dispatcher, ControlHandler* control)
    : channel_(channel),
      dispatcher_(dispatcher),
      control_(control),
      buffer_(new char[kBufferSize]) {
  if (channel_->pipe() >= 0) pipes_.push_back({channel_->pipe(), std::string(), nullptr});
}

void Pump::AddPipe(int fd, RecordSink* tree) { pipes_.push_back({fd, std::string(), tree}); }

void Pump::RemovePipe(int fd) {
  for (size_t i = 0; i < pipes_.size(); ++i) {
    if (pipes_[i].fd != fd) continue;
    DrainStream(&pipes_[i]);
    pipes_.erase(pipes_.begin() + static_cast<std::ptrdiff_t>(i));
    return;
  }
}

void Pump::RemoveTreeRoot(pid_t root) {
  roots_.erase(
      std::remove_if(roots_.begin(), roots_.end(), [root](const Root& r) { return r.pid == root; }),
      roots_.end());
}

// The first root (in the order they were added) that `pid` descends from, or null.
const Pump::Root* Pump::RootAbove(pid_t pid) const {
  if (roots_.empty()) return nullptr;
  const std::vector<pid_t> line = LineOf(pid);
  for (const Root& root : roots_) {
    if (std::find(line.begin(), line.end(), root.pid) != line.end()) return &root;
  }
  return nullptr;
}

bool Pump::Admissible(pid_t pid) const {
  return RootAbove(pid) != nullptr || dispatcher_->InTree(pid);
}

Pump::Sender Pump::SocketSender(pid_t pid) const {
  Sender sender;
  sender.checked = check_senders_;
  sender.pid = pid;
  if (!check_senders_ || pid <= 0) return sender;
  sender.tree = dispatcher_->TreeOf(pid);
  if (sender.tree == nullptr) {
    if (const Root* root = RootAbove(pid)) sender.tree = root->tree;
  }
  return sender;
}

// `trusted`: from the control socket, the only source of control messages.
void Pump::Handle(const char* data, size_t size, bool trusted, const Sender& sender) {
  if (size < sizeof(MessageHeader)) return;
  MessageHeader header;
  std::memcpy(&header, data, sizeof(header));
  const bool control_type =
      header.type != MessageType::kRecords && header.type != MessageType::kReaped &&
      header.type != MessageType::kDeferred && header.type != MessageType::kMarker;
  if (control_type && !trusted) {
    ++forged_;
    return;
  }
  const char* body = data + sizeof(header);
  const size_t body_size = size - sizeof(header);
  WireRecord record{};
  if (header.type != MessageType::kRecords && body_size >= sizeof(record)) {
    std::memcpy(&record, body, sizeof(record));
  }
  switch (header.type) {
    case MessageType::kRecords:
      dispatcher_->HandleRecords(body, body_size, sender);
      break;
    case MessageType::kReaped:
      dispatcher_->HandleExit(record, sender);
      break;
    case MessageType::kDeferred:  // only from a socket, where Receive stashes it
      break;
    case MessageType::kMarker:
      HandleMarker(header, body, body_size, sender.tree);
      break;
    default:
      control_->OnControl(header.type, record);
      break;
  }
}

// `pipe_tree`: the tree whose pipe the marker came through.
void Pump::HandleMarker(const MessageHeader& header, const char* body, size_t body_size,
                        RecordSink* pipe_tree) {
  uint64_t id = 0;
  if (body_size >= sizeof(id)) std::memcpy(&id, body, sizeof(id));
  auto it = deferred_.find(id);
  if (it == deferred_.end()) {
    ReceiveSockets();  // the send completed before the marker was written
    it = deferred_.find(id);
  }
  if (it == deferred_.end()) {
    dispatcher_->AddComment(header.sender,
                            absl::StrCat(" preload: a message of process ", header.sender,
                                         " was lost (its marker came alone)"));
    return;
  }
  const Received message = std::move(it->second);
  deferred_.erase(it);
  Sender sender = SocketSender(message.pid);
  if (sender.tree != pipe_tree) sender.tree = nullptr;  // the marker's pipe and sender disagree
  if (message.data.size() >= sizeof(MessageHeader)) {
    MessageHeader inner;
    std::memcpy(&inner, message.data.data(), sizeof(inner));
    if (inner.type == MessageType::kRecords || inner.type == MessageType::kReaped) {
      Handle(message.data.data(), message.data.size(), false, sender);
    }
  }
}

// Reads every message queued on socket `fd`: a deferred one waits for its marker, any other
// in `*plain`, each with its sender's pid if the socket passes credentials. Returns true when
// the peer closed.
bool Pump::Receive(int fd, std::vector<Received>* plain) {
  if (fd < 0) return false;  // a shared supervisor's control socket (none)
  while (true) {
    struct iovec iov = {buffer_.get(), kBufferSize};
    union {
      char bytes[CMSG_SPACE(sizeof(struct ucred))];
      struct cmsghdr align;
    } control;
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    ++received_;
    pid_t pid = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        pid = cred.pid;
      }
    }
    if (static_cast<size_t>(n) < sizeof(MessageHeader)) continue;
    MessageHeader header;
    std::memcpy(&header, buffer_.get(), sizeof(header));
    if (header.type == MessageType::kDeferred && static_cast<size_t>(n) >= kDeferredPrefix) {
      uint64_t id;
      std::memcpy(&id, buffer_.get() + sizeof(header), sizeof(id));
      Received& stashed = deferred_[id];
      stashed.data.assign(buffer_.get() + kDeferredPrefix,
                          static_cast<size_t>(n) - kDeferredPrefix);
      stashed.pid = pid;
    } else {
      plain->push_back({std::string(buffer_.get(), static_cast<size_t>(n)), pid});
    }
  }
}

// Accepts reconnections, receives what every socket holds, closes reconnections that ended.
// The control socket first: whatever a traced process sent before the reaper's message is
// then on the sockets (or in the pipe) too, and handled before it.
void Pump::ReceiveSockets() {
  Receive(channel_->control(), &control_queue_);
  channel_->AcceptPeers([this](pid_t pid) { return Admissible(pid); });
  for (size_t i = 0; i < channel_->connection_count(); ++i) {
    if (Receive(channel_->connection(i), &unmarked_) && i > 0) {
      channel_->CloseConnection(i);
      --i;
    }
  }
}

// After a drain of the pipe: admits the waiting peers the trees' records named (and reads
// them, before any control message that came after them), refuses the others in time.
void Pump::Decide(bool final) {
  for (size_t i :
       channel_->DecidePeers([this](pid_t pid) { return dispatcher_->InTree(pid); }, final)) {
    Receive(channel_->connection(i), &unmarked_);
  }
}

// The socket messages received so far, after a drain of the pipe: each sender's earlier pipe
// writes came before. Then the reaper's, unless a peer is undecided.
void Pump::HandleUnmarked() {
  std::vector<Received> ready;
  ready.swap(unmarked_);
  for (const Received& message : ready) {
    Handle(message.data.data(), message.data.size(), false, SocketSender(message.pid));
  }
  if (channel_->has_waiting_peers()) return;
  ready.clear();
  ready.swap(control_queue_);
  for (const Received& message : ready) {
    Handle(message.data.data(), message.data.size(), true, Sender());
  }
}

// Every pipe's stream.
void Pump::DrainPipe() {
  for (PipeStream& stream : pipes_) DrainStream(&stream);
}

// One pipe's stream: whole messages are handled, a message cut by the end of a read waits in
// `pending` for the rest.
void Pump::DrainStream(PipeStream* stream) {
  std::string& pending = stream->pending;
  while (!control_->finished()) {
    const ssize_t n = read(stream->fd, buffer_.get(), kBufferSize);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    pipe_bytes_ += static_cast<size_t>(n);
    pending.append(buffer_.get(), static_cast<size_t>(n));
    size_t pos = 0;
    while (pending.size() - pos >= sizeof(MessageHeader)) {
      MessageHeader header;
      std::memcpy(&header, pending.data() + pos, sizeof(header));
      if (header.size < sizeof(MessageHeader)) {  // cannot happen: a writer's bug
        status_ = absl::InternalError("preload: a message without its size in the pipe");
        pending.clear();
        pos = 0;
        break;
      }
      if (pending.size() - pos < header.size) break;
      ++received_;
      Sender sender;
      sender.checked = check_senders_;
      sender.tree = stream->tree;
      sender.pid = header.sender;
      Handle(pending.data() + pos, header.size, false, sender);
      pos += header.size;
    }
    pending.erase(0, pos);
    // A short read emptied the pipe: what a sender queues from now on waits for the next
    // tick, instead of a read here that would find nothing (one system call a tick).
    if (static_cast<size_t>(n) < kBufferSize) return;
  }
}

// Reads every queued message of the sockets and the pipe, in their order. Returns the number
// of messages read.
size_t Pump::DrainAll() {
  received_ = 0;
  ReceiveSockets();
  DrainPipe();
  Decide(/*final=*/false);
  HandleUnmarked();
  return received_;
}

absl::Status Pump::Run(WaitStrategy* wait, int wake_fd) {
  std::vector<pollfd> fds;
  while (!control_->finished()) {
    fds.clear();
    fds.push_back({wake_fd, POLLIN, 0});  // first: see WaitStrategy
    fds.push_back({channel_->control(), POLLIN, 0});
    if (channel_->listener() >= 0) fds.push_back({channel_->listener(), POLLIN, 0});
    for (size_t i = 0; i < channel_->connection_count(); ++i) {
      fds.push_back({channel_->connection(i), POLLIN, 0});
    }
    absl::StatusOr<WaitStrategy::Wakeup> woke = wait->Wait(&fds);
    if (!woke.ok()) return woke.status();
    if (wake_fd >= 0 && fds[0].revents != 0) control_->OnWake();
    pipe_bytes_ = 0;
    size_t messages = 0;
    if (woke->drain == WaitStrategy::Drain::kAll) {
      messages = DrainAll();
    } else if (woke->drain == WaitStrategy::Drain::kPipe) {
      DrainPipe();
    }
    if (woke->watched_exited) break;
    wait->Drained(messages, pipe_bytes_);
  }
  return absl::OkStatus();
}

void Pump::Finish() {
  DrainPipe();
  ReceiveSockets();
  HandleUnmarked();
  Decide(/*final=*/true);  // the peers the trees named are connections now: read them too
  ReceiveSockets();
  HandleUnmarked();
  Decide(/*final=*/true);
  // Deferred messages whose marker never came (the sender's pipe broke): out of place, but
  // not lost.
  absl::flat_hash_map<uint64_t, Received> left;
  left.swap(deferred_);
  for (auto& [id, message] : left) {
    if (message.data.size() >= sizeof(MessageHeader)) {
      Handle(message.data.data(), message.data.size(), false, SocketSender(message.pid));
    }
  }
  channel_->CloseSockets();
}

}  // namespace preload_internal
}  // namespace filemon
