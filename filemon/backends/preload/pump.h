// File: filemon/backends/preload/pump.h
//
// `Pump`: reads the supervisor's channel (supervisor_channel.h) and hands every message, in
// the order the traced processes made their calls, to the record dispatcher (records, reaped
// processes) or to the control handler (the reaper's messages).
//
// Order (wire_format.h, "Order"): the pipe carries nearly everything; a deferred socket message
// is handled when its marker comes through the pipe; a plain socket message (from a process
// without the pipe) after the pipe's next drain, so that the sender's earlier pipe writes come
// first; a control message after every record sent before it, and not while a reconnected peer
// is undecided (its records may precede it). Control messages come only from the control
// socket: one of those types from a traced process is ignored and counted (`forged()`).
//
// Reconnected peers are admitted if they descend (per /proc) from a root given to
// `AddTreeRoot` or the dispatcher knows them (`RecordDispatcher::InTree`).
//
// Several trees (`CheckSenders`, a shared supervisor): a message may write only for its
// sender's tree (RecordDispatcher::Sender). The sender's tree is the one whose pipe the
// message came through, or, for a socket, the tree of the process the kernel names as its
// sender (SCM_CREDENTIALS: the dispatcher's routes, else the tree root it descends from per
// /proc); a deferred message needs both to agree (its marker's pipe, its socket sender).
//
// Several trees (`CheckSenders`, a shared supervisor): a message may write only for its
// sender's tree (RecordDispatcher::Sender). The sender's tree is the one whose pipe the
// message came through, or, for a socket, the tree of the process the kernel names as its
// sender (SCM_CREDENTIALS: the dispatcher's routes, else the tree root it descends from per
// /proc); a deferred message needs both to agree (its marker's pipe, its socket sender).
//
// The pump can outlive one command: `Run` returns when the control handler says it is finished
// or the wait strategy sees its watched process exit, and may be called again; `Finish` is for
// the end, once every writer is gone. Not thread-safe.
//
// Pipes: the channel's own, and any added with `AddPipe` (a supervisor shared by several
// traced trees gives each tree a pipe of its own, whose hangup says that tree is done). Each
// pipe's stream is read on its own; the order rules above hold per pipe, which is per tree.
//
// Example:
//   Pump pump(&channel, &dispatcher, &handler);
//   pump.AddTreeRoot(reaper.pid());
//   TickWait wait(reaper.OpenPidfd(), channel.pipe_capacity());
//   absl::Status status = pump.Run(&wait, wake_fd);
//   reaper.Wait();
//   pump.Finish();

#ifndef FILEMON_BACKENDS_PRELOAD_PUMP_H_
#define FILEMON_BACKENDS_PRELOAD_PUMP_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "filemon/backends/preload/pump_wait.h"
#include "filemon/backends/preload/record_dispatcher.h"
#include "filemon/backends/preload/supervisor_channel.h"
#include "filemon/backends/preload/wire_format.h"

namespace filemon {
namespace preload_internal {

// What the pump does not handle itself.
class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // A message of the reaper (kRootStarted, kRootExit, kRootExecError, kDone; its record is
  // zero if the message had none), after every record the traced tree sent before it.
  virtual void OnControl(MessageType type, const WireRecord& record) = 0;
  // The wake descriptor given to `Pump::Run` is readable.
  virtual void OnWake() = 0;
  // True once nothing more will come (the reaper's kDone): the pump stops reading.
  virtual bool finished() const = 0;
};

class Pump {
 public:
  // All three must outlive the pump.
  Pump(SupervisorChannel* channel, RecordDispatcher* dispatcher, ControlHandler* control);
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Admits reconnecting peers that descend from `root` (until `RemoveTreeRoot(root)`), whose
  // tree, for `CheckSenders`, is `tree`.
  void AddTreeRoot(pid_t root, RecordSink* tree = nullptr) { roots_.push_back({root, tree}); }
  void RemoveTreeRoot(pid_t root);
  // From now on, checks every message's sender (see the top). Call before the first `Run`.
  void CheckSenders() { check_senders_ = true; }

  // Reads pipe `fd` (non-blocking, owned by the caller) too, from the next drain on; its
  // messages are sent by `tree` (for `CheckSenders`).
  void AddPipe(int fd, RecordSink* tree = nullptr);
  // Reads what pipe `fd` holds, then forgets it (the caller may close it). A message cut by
  // the end of the pipe (its writer died while writing) is dropped.
  void RemovePipe(int fd);

  // Waits with `wait` and drains what it asks for, until the control handler is finished or
  // the strategy's watched process exited. `wake_fd` (-1: none) is polled for
  // `ControlHandler::OnWake`. Returns poll's error (the pump stops) or OK.
  absl::Status Run(WaitStrategy* wait, int wake_fd);
  // Reads what is left once every writer is gone (final decisions on waiting peers; deferred
  // messages whose marker never came are handled out of place rather than lost) and closes the
  // sockets.
  void Finish();

  // A pipe framing error (a writer's bug), or OK.
  const absl::Status& status() const { return status_; }
  // Control messages that came from traced processes, ignored.
  size_t forged() const { return forged_; }

 private:
  // A socket message and its sender's pid as the kernel gave it (0: unknown).
  struct Received {
    std::string data;
    pid_t pid;
  };
  using Sender = RecordDispatcher::Sender;
  void Handle(const char* data, size_t size, bool trusted, const Sender& sender);
  void HandleMarker(const MessageHeader& header, const char* body, size_t body_size,
                    RecordSink* pipe_tree);
  bool Receive(int fd, std::vector<Received>* plain);
  // The sender of a socket message from `pid` (the kernel's).
  Sender SocketSender(pid_t pid) const;
  void ReceiveSockets();
  void HandleUnmarked();
  struct PipeStream {
    int fd;
    std::string pending;  // a message the end of a read cut
    RecordSink* tree;     // its writers' tree (AddPipe)
  };
  void DrainPipe();
  void DrainStream(PipeStream* stream);
  void Decide(bool final);
  size_t DrainAll();
  bool Admissible(pid_t pid) const;

  SupervisorChannel* channel_;
  RecordDispatcher* dispatcher_;
  ControlHandler* control_;
  struct Root {
    pid_t pid;
    RecordSink* tree;
  };
  const Root* RootAbove(pid_t pid) const;
  std::vector<Root> roots_;
  bool check_senders_ = false;
  // Left uninitialised: a read fills it (zeroed, its pages would all be touched at the
  // pump's construction, a page fault each, although most reads fill one).
  static constexpr size_t kBufferSize = kMaxMessage + kDeferredPrefix + 1;
  std::unique_ptr<char[]> buffer_;
  // Deferred messages by id, until their marker (wire_format.h).
  absl::flat_hash_map<uint64_t, Received> deferred_;
  std::vector<Received> unmarked_;       // plain socket messages, until the next pipe drain
  std::vector<Received> control_queue_;  // the reaper's, after the records before them
  std::vector<PipeStream> pipes_;        // the channel's pipe first, if it has one
  size_t received_ = 0;                  // messages read since the last DrainAll
  size_t pipe_bytes_ = 0;                // bytes read from the pipe since the last wait
  size_t forged_ = 0;
  absl::Status status_;
};

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_PUMP_H_
