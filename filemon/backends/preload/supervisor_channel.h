// File: filemon/backends/preload/supervisor_channel.h
//
// `SupervisorChannel`: every descriptor between the preload supervisor and what it traces
// (wire_format.h), owned in one place.
//
// - the socket: a SOCK_SEQPACKET socketpair; the traced tree inherits the child end (at a high
//   number, out of the way of programs that use low ones), the supervisor reads the other;
// - the pipe (best effort; without it everything uses the socket): messages up to PIPE_BUF,
//   made as large as an unprivileged process may;
// - the listener (best effort): an abstract socket with a fresh random name, for processes that
//   lost their descriptor. Anyone on the machine can connect to it, so every peer is checked
//   (SO_PEERCRED): one of a traced tree is admitted, one that is not yet known waits for one
//   more drain of the pipe (its tree's records may name it), the others are refused and
//   counted;
// - the control socketpair: the reaper's own channel (the command never holds it), the only
//   source of control messages.
//
// The child ends are close-on-exec; whoever hands them to the command clears that flag in the
// child (the reaper does). `CloseChildEnds()` after the fork. Not thread-safe; one pump uses
// it. Nothing here depends on one run: a supervisor that serves several trees (issue 21) keeps
// one channel for all of them.

#ifndef FILEMON_BACKENDS_PRELOAD_SUPERVISOR_CHANNEL_H_
#define FILEMON_BACKENDS_PRELOAD_SUPERVISOR_CHANNEL_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "filemon/core/owned_fd.h"

namespace filemon {
namespace preload_internal {

// Who reads the channel.
enum class ChannelUse {
  // One run's supervisor, with its reaper: every descriptor above.
  kRun,
  // A supervisor shared by several trees (shared_supervisor.h): the socket and the listener
  // only (each tree has its own pipe, and there is no reaper: `pipe()`, `control()` and the
  // child ends but the socket are -1). The child socket, which every tree inherits, stays open
  // for good, and its messages carry their sender's pid (SO_PASSCRED), as those of every
  // reconnection do.
  kShared,
};

class SupervisorChannel {
 public:
  // Creates the socketpair and, for a run, the control socketpair (errors), the pipe and the
  // listener (best effort).
  static absl::StatusOr<SupervisorChannel> Open(ChannelUse use = ChannelUse::kRun);

  SupervisorChannel(SupervisorChannel&&) = default;
  SupervisorChannel& operator=(SupervisorChannel&&) = default;

  // The traced tree's ends (-1 once closed, or when there is no pipe).
  int child_socket() const { return child_socket_.get(); }
  int child_pipe() const { return child_pipe_.get(); }
  // The reaper's end of the control socketpair.
  int control_child() const { return control_child_.get(); }
  // Closes the three ends above (in the supervisor, once the reaper holds them).
  void CloseChildEnds();

  // The supervisor's ends. `pipe()` is non-blocking; -1 if there is none.
  int pipe() const { return pipe_read_.get(); }
  size_t pipe_capacity() const { return pipe_capacity_; }
  int control() const { return control_.get(); }
  int listener() const { return listener_.get(); }
  // The listener's abstract name (without the leading NUL); empty when there is no listener.
  const std::string& socket_name() const { return socket_name_; }

  // The sockets records arrive on: 0 is the socketpair, the others admitted reconnections.
  size_t connection_count() const { return connections_.size(); }
  int connection(size_t i) const { return connections_[i].get(); }
  // Closes reconnection `i` (> 0) once its peer closed it.
  void CloseConnection(size_t i);

  // Whether a process belongs to a traced tree (the caller knows the roots and the records).
  using Membership = absl::FunctionRef<bool(pid_t)>;
  // Accepts every pending reconnection: a peer `in_tree` says belongs is admitted, one whose
  // credentials cannot be read is refused, the others wait for `DecidePeers`.
  void AcceptPeers(Membership in_tree);
  // After a drain of the pipe: admits the waiting peers `known` now names, refuses those that
  // already waited through a whole drain (all of them when `final`). Returns the newly admitted
  // connections' indexes, whose queued messages the caller reads at once.
  std::vector<size_t> DecidePeers(Membership known, bool final);
  // True while a peer waits for `DecidePeers`.
  bool has_waiting_peers() const { return !waiting_.empty(); }
  // Peers refused so far, and the first of them (its pid and uid, for the log).
  size_t refused() const { return refused_; }
  const struct ucred& first_refused() const { return first_refused_; }

  // Closes every socket the supervisor reads from (not the pipe).
  void CloseSockets();

 private:
  SupervisorChannel() = default;
  void OpenPipe();  // best effort: without it, pipe() and child_pipe() are -1
  void Refuse(const struct ucred& peer);

  OwnedFd child_socket_, child_pipe_, control_child_;
  OwnedFd pipe_read_, control_, listener_;
  size_t pipe_capacity_ = 0;
  std::string socket_name_;
  std::vector<OwnedFd> connections_;
  struct Waiting {
    OwnedFd fd;
    struct ucred peer;
    bool drained;  // the pipe was drained since the accept
  };
  std::vector<Waiting> waiting_;
  size_t refused_ = 0;
  struct ucred first_refused_ {};
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_SUPERVISOR_CHANNEL_H_
