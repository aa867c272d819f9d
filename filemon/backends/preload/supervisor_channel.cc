#include "filemon/backends/preload/supervisor_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "filemon/core/descriptor_error.h"

namespace filemon {
namespace preload_internal {
namespace {

// Binds and listens on a fresh abstract name "filemon-preload-PID-RANDOM" (set in `*name`).
// The name is visible to every user (/proc/net/unix): a random part makes it impossible to
// bind in advance, and a name taken anyway is replaced by another. Invalid (and `*name`
// empty) on failure.
OwnedFd ListenOnFreshName(std::string* name) {
  OwnedFd listener(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  name->clear();
  if (!listener.valid()) return listener;
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t random = 0;
    if (getrandom(&random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) break;
    *name = absl::StrCat("filemon-preload-", getpid(), "-", absl::Hex(random, absl::kZeroPad16));
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name->data(), name->size());
    const socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + name->size();
    if (bind(listener.get(), reinterpret_cast<struct sockaddr*>(&addr), len) == 0) {
      if (listen(listener.get(), 128) == 0) return listener;
      break;
    }
    if (errno != EADDRINUSE) break;
  }
  name->clear();
  return OwnedFd();
}

// The lowest descriptor number for the traced tree's ends: high, out of the way of programs
// that use low ones, and below the soft limit.
int HighDescriptor() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1100) {
    return static_cast<int>(limit.rlim_cur) > 64 ? static_cast<int>(limit.rlim_cur) - 32 : 10;
  }
  return 1000;
}

}  // namespace

absl::StatusOr<SupervisorChannel> SupervisorChannel::Open(ChannelUse use) {
  SupervisorChannel channel;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return DescriptorError(errno, "preload: socketpair(AF_UNIX, SOCK_SEQPACKET)");
  }
  channel.connections_.emplace_back(pair[0]);
  OwnedFd child_low(pair[1]);
  channel.listener_ = ListenOnFreshName(&channel.socket_name_);
  // Room for bursts while the supervisor sleeps between drains (see the pump).
  int sndbuf = 4 << 20;
  if (setsockopt(child_low.get(), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) {
    setsockopt(child_low.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  DescriptorRequest high;
  high.lowest = HighDescriptor();
  channel.child_socket_.reset(fcntl(child_low.get(), F_DUPFD_CLOEXEC, high.lowest));
  if (!channel.child_socket_.valid()) {
    return DescriptorError(errno, "preload: fcntl(F_DUPFD_CLOEXEC)", high);
  }
  if (use == ChannelUse::kShared) {
    // Every tree holds the child end: each message then carries its sender's pid as the
    // kernel knows it (SCM_CREDENTIALS), which decides the tree it may write for (pump.h).
    const int on = 1;
    setsockopt(channel.connections_[0].get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
    return channel;
  }
  channel.OpenPipe();
  int control[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) {
    return DescriptorError(errno, "preload: socketpair(control)");
  }
  channel.control_.reset(control[0]);
  channel.control_child_.reset(control[1]);
  return channel;
}

// The pipe, as large as an unprivileged process may make it: room for the records of many
// ticks. Linux's default where F_SETPIPE_SZ is refused (quotas).
void SupervisorChannel::OpenPipe() {
  pipe_capacity_ = 64 << 10;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  OwnedFd read_end(p[0]), write_end(p[1]);
  fcntl(read_end.get(), F_SETPIPE_SZ, 1 << 20);
  const int capacity = fcntl(read_end.get(), F_GETPIPE_SZ);
  if (capacity > 0) pipe_capacity_ = static_cast<size_t>(capacity);
  fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
  child_pipe_.reset(fcntl(write_end.get(), F_DUPFD_CLOEXEC, child_socket_.get() + 1));
  if (child_pipe_.valid()) pipe_read_ = std::move(read_end);
}

void SupervisorChannel::CloseChildEnds() {
  child_socket_.reset();
  child_pipe_.reset();
  control_child_.reset();
}

void SupervisorChannel::CloseConnection(size_t i) {
  if (i == 0 || i >= connections_.size()) return;
  connections_.erase(connections_.begin() + static_cast<std::ptrdiff_t>(i));
}

void SupervisorChannel::Refuse(const struct ucred& peer) {
  if (refused_++ == 0) first_refused_ = peer;
}

void SupervisorChannel::AcceptPeers(Membership in_tree) {
  if (!listener_.valid()) return;
  while (true) {
    OwnedFd c(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.valid()) return;
    struct ucred peer {};
    socklen_t len = sizeof(peer);
    const int on = 1;  // its messages carry the sender's pid (SCM_CREDENTIALS), as above
    if (getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
        setsockopt(c.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
      Refuse(peer);
    } else if (in_tree(peer.pid)) {
      connections_.push_back(std::move(c));
    } else {
      // A peer no longer alive (it connected, sent and exited before this accept) cannot be
      // placed through /proc: it waits for the next drain of the pipe, where its earlier
      // records (its start, its parent's F) name it if it belongs to a tree.
      waiting_.push_back({std::move(c), peer, false});
    }
  }
}

std::vector<size_t> SupervisorChannel::DecidePeers(Membership known, bool final) {
  std::vector<size_t> admitted;
  std::vector<Waiting> still;
  for (Waiting& w : waiting_) {
    if (known(w.peer.pid)) {
      admitted.push_back(connections_.size());
      connections_.push_back(std::move(w.fd));
    } else if (w.drained || final) {
      Refuse(w.peer);
    } else {
      w.drained = true;
      still.push_back(std::move(w));
    }
  }
  waiting_.swap(still);
  return admitted;
}

void SupervisorChannel::CloseSockets() {
  connections_.clear();
  waiting_.clear();
  control_.reset();
}

}  // namespace preload_internal
}  // namespace filemon
