// File: filemon/backends/preload/wire_format.h
//
// The bytes that travel from the interposer (libfilemon_preload.so, inside every traced
// process) to the supervisor (PreloadBackend) through one pipe shared by all of them.
//
// Two channels. The pipe carries every message of at most `kMaxPipeMessage` (= PIPE_BUF)
// bytes: a `write(2)` that small to a pipe is atomic, so messages from many processes never
// interleave, and it costs a third of a socket send (measured: 0.35 vs 1.07 us). Messages are
// framed by `MessageHeader::size`. A `SOCK_SEQPACKET` Unix socket carries the rare larger
// message (long paths) and the messages of a process whose pipe descriptor was closed behind
// its back; every `send(2)` there is one message, and `MSG_NOSIGNAL` keeps a traced program
// alive if the supervisor is gone (a pipe write then raises SIGPIPE: the traced processes end
// with their tracer, as under ptrace's PTRACE_O_EXITKILL). A message is a `MessageHeader`
// followed by records, each a `WireRecord` and `len1 + len2` path bytes; the records of one
// call (e.g. `A` then `R` then `W`) travel in one message, so they are never separated in the
// log.
//
// Order. The log must keep the order the kernel gives (FreeBSD's filemon writes F inside the
// parent's fork): `F P C` before any record of C and before P's X, and each process's records
// in the order of its calls. Hence:
// - Large messages keep their place: a process that has the pipe sends a message too large
//   for it as a `kDeferred` message through the socket, wrapping the message with a 64-bit id,
//   and once the send returned writes a `kMarker` with the same id to the pipe. The supervisor
//   handles the wrapped message when it reads the marker (the message is already queued on the
//   socket: the send completed before the marker was written). A process without the pipe
//   sends plain messages through the socket; the supervisor drains the pipe before handling
//   such a message, so the sender's earlier pipe writes come first.
// - F from both sides: a process creation has a token, the creator's count of its creations
//   (never 0), in `WireRecord::status` of F. The child writes `F P C token` before any record
//   of its own (fork's atfork child handler, the clone trampoline, or the start of a process
//   created inside glibc: launch_protocol.h), and the parent writes the same F as soon as the
//   creation returned, before any later record of its own and before its X. The supervisor
//   writes the first of the two and drops the second. Token 0 marks a creation that has only
//   one F (e.g. a vfork child, whose parent stays suspended until it exec'd or exited; a
//   program the interposer cannot enter, whose parent writes its F alone).

// Header-only, no dependencies beyond libc, no allocation: the interposer includes it and must
// stay async-signal-safe (it sends with raw system calls, not with SendMessage below).
//
// Example (supervisor side):
//   DecodeRecords(data + sizeof(MessageHeader), size - sizeof(MessageHeader),
//                 [&](const WireRecord& r, const char* path1, const char* path2) { ... });

#ifndef FILEMON_BACKENDS_PRELOAD_WIRE_FORMAT_H_
#define FILEMON_BACKENDS_PRELOAD_WIRE_FORMAT_H_

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace filemon {
namespace preload_internal {

// The largest message the interposer sends: two paths of PATH_MAX with dirfd prefixes.
inline constexpr size_t kMaxMessage = 20 * 1024;
// The largest message that travels through the pipe (PIPE_BUF on Linux: atomic writes).
inline constexpr size_t kMaxPipeMessage = 4096;

enum class MessageType : uint8_t {
  kRecords = 1,        // records from a traced process
  kReaped = 2,         // a parent reaped a child: one WireRecord of kind kExit
  kRootExit = 3,       // the traced command's end: one WireRecord of kind kExit
  kRootExecError = 4,  // the command could not be started: WireRecord.status = errno
  kDone = 5,           // the reaper has no child left: nothing traced is alive
  kRootStarted = 6,    // the command's process exists: WireRecord.pid
  kDeferred = 7,       // a uint64_t id, then a whole message (header included): see the top
  kMarker = 8,         // a uint64_t id: handle the kDeferred message of this id now
  kRootUntraced = 9,   // the command execs without the interposer (WireRecord.pid; .status =
                       // the errno that left no other way, E2BIG)
};

struct MessageHeader {
  MessageType type;
  uint8_t reserved;
  uint16_t size;   // of the whole message, this header included (frames the pipe's stream)
  int32_t sender;  // the sending process (diagnostics)
};
static_assert(sizeof(MessageHeader) == 8, "MessageHeader layout");
static_assert(kMaxMessage <= 0xffff, "MessageHeader::size holds any message's size");

// The record kinds on the wire (mapped to `filemon::RecordKind` by the supervisor).
enum class WireKind : uint8_t {
  kAt = 'A',
  kChdir = 'C',
  kDelete = 'D',
  kExec = 'E',
  kFork = 'F',
  kLink = 'L',
  kMove = 'M',
  kNotFound = 'N',  // TraceOptions::probes
  kRead = 'R',
  kWrite = 'W',
  kExit = 'X',
  kComment = '#',
  // Not a record: `pid` runs a program the interposer cannot enter (statically linked, ...),
  // whose own forks the log cannot show. Sent with its E. Its X waits for the end of the run,
  // so that a descendant that shows itself later (a dynamically linked program it started)
  // can still be introduced by an F naming it, before that X (see kFork's `signal`).
  kUnenterable = 'u',
  // Not a record: `pid` execs under a nested trace's session (launch_protocol.h, "Nested
  // traces"); its records and its X are that log's from now on, and its reaping writes none
  // here.
  kHandedOver = 'h',
  // Not a record: a session's child prepared itself to be traced (TraceSession::PrepareChild,
  // FreeBSD's FILEMON_SET_PID), sent by the caller's code before its exec. Its X is then this
  // log's even if it never runs a program the interposer enters (its exec failed): the
  // supervisor writes it from the root's end.
  kPrepared = 'p',
};

struct WireRecord {
  WireKind kind;
  uint8_t reserved;
  uint16_t len1;  // bytes of the first path (or comment text)
  uint16_t len2;  // bytes of the second path (L, M)
  uint16_t reserved2;
  int32_t pid;
  int32_t child_pid;  // F
  int32_t status;     // X: exit code; F: the creation's token (uint32_t; 0: the only F)
  // X: terminating signal or 0. F: 0, or the process named by the child's environment as the
  // last exec the interposer saw (a kUnenterable program's): the parent to write when the
  // kernel's parent (`pid`: one of that program's own forks, or the reaper once it exited) is
  // no process of the log.
  int32_t signal;
};
static_assert(sizeof(WireRecord) == 24, "WireRecord layout");

// A control message of the supervisor's own processes (the reaper, through the control socket
// only they hold): a header and one record of kind kExit (MessageType says what its fields mean
// for each type). Also the shape of any message of one record (a session child's kPrepared).
struct ControlMessage {
  MessageHeader header;
  WireRecord record;
};

inline ControlMessage MakeControlMessage(MessageType type, int32_t sender, int32_t pid,
                                         int32_t status, int32_t signal) {
  ControlMessage message;
  std::memset(&message, 0, sizeof(message));
  message.header.type = type;
  message.header.size = sizeof(message);
  message.header.sender = sender;
  message.record.kind = WireKind::kExit;
  message.record.pid = pid;
  message.record.status = status;
  message.record.signal = signal;
  return message;
}

// The bytes before a deferred message, and the whole of a marker: a header and the id.
inline constexpr size_t kDeferredPrefix = sizeof(MessageHeader) + sizeof(uint64_t);
static_assert(kMaxMessage + kDeferredPrefix <= 0xffff, "a deferred message's size fits");

// Fills `out` (kDeferredPrefix bytes) with a header of `type` (kDeferred: before a message of
// `message_size` bytes; kMarker: alone) and the id.
inline void MakeDeferredPrefix(char* out, MessageType type, uint64_t id, size_t message_size,
                               int32_t sender) {
  MessageHeader header{};
  header.type = type;
  header.size =
      static_cast<uint16_t>(kDeferredPrefix + (type == MessageType::kDeferred ? message_size : 0));
  header.sender = sender;
  std::memcpy(out, &header, sizeof(header));
  std::memcpy(out + sizeof(header), &id, sizeof(id));
}

// A deferred message's id: the sender's pid and its own count of deferred messages.
inline uint64_t DeferredId(int32_t sender, uint32_t count) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(sender)) << 32) | count;
}

// Appends bytes to a fixed buffer; remembers overflow instead of writing past the end.
class ByteAppender {
 public:
  ByteAppender(char* data, size_t capacity) : data_(data), capacity_(capacity) {}
  void Append(const void* bytes, size_t n) {
    if (n > capacity_ - size_) {
      overflow_ = true;
      n = capacity_ - size_;
    }
    std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Lets a caller write directly after the end (e.g. readlink(2) into the buffer).
  char* tail() const { return data_ + size_; }
  size_t room() const { return capacity_ - size_; }
  void Grow(size_t n) { size_ += n; }
  // Keeps the first `n` bytes; forgets an overflow (what overflowed is gone).
  void Truncate(size_t n) {
    size_ = n;
    overflow_ = false;
  }
  // Says that something did not fit although nothing was appended (e.g. getcwd's ERANGE).
  void MarkOverflow() { overflow_ = true; }
  bool overflow() const { return overflow_; }

 private:
  char* data_;
  size_t capacity_;
  size_t size_ = 0;
  bool overflow_ = false;
};

// Sends `message` (a MessageHeader and its body, `size` bytes) the way the channels are shared
// (see the top of this file), from the supervisor's own processes (the reaper, the ptrace
// helper): sets the header's size, writes through `*pipe_fd` when it fits, else (or when the
// pipe write fails, which then sets `*pipe_fd` to -1) through `socket_fd`, deferred behind a
// marker while the pipe works. `*deferred` counts the sender's deferred messages.
// Async-signal-safe.
inline void SendMessage(char* message, size_t size, int* pipe_fd, int socket_fd,
                        uint32_t* deferred) {
  const uint16_t size16 = static_cast<uint16_t>(size);  // <= kMaxMessage
  std::memcpy(message + offsetof(MessageHeader, size), &size16, sizeof(size16));
  auto write_pipe = [&](const char* data, size_t n) {
    ssize_t w;
    while ((w = write(*pipe_fd, data, n)) < 0 && errno == EINTR) {
    }
    if (w == static_cast<ssize_t>(n)) return true;
    *pipe_fd = -1;
    return false;
  };
  if (*pipe_fd >= 0 && size <= kMaxPipeMessage && write_pipe(message, size)) return;
  if (*pipe_fd >= 0) {
    int32_t sender;
    std::memcpy(&sender, message + offsetof(MessageHeader, sender), sizeof(sender));
    const uint64_t id = DeferredId(sender, ++*deferred);
    char prefix[kDeferredPrefix];
    MakeDeferredPrefix(prefix, MessageType::kDeferred, id, size, sender);
    struct iovec parts[2] = {{prefix, sizeof(prefix)}, {message, size}};
    struct msghdr msg {};
    msg.msg_iov = parts;
    msg.msg_iovlen = 2;
    while (sendmsg(socket_fd, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
    char marker[kDeferredPrefix];
    MakeDeferredPrefix(marker, MessageType::kMarker, id, 0, sender);
    write_pipe(marker, sizeof(marker));
    return;
  }
  while (send(socket_fd, message, size, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// Decodes the records of a joined batch. Calls `fn(const WireRecord&, const char* path1,
// const char* path2)` per record; returns false if the batch is malformed (then `fn` has been
// called for the well-formed records before the damage).
template <typename Fn>
bool DecodeRecords(const char* data, size_t size, Fn fn) {
  size_t pos = 0;
  while (pos < size) {
    if (size - pos < sizeof(WireRecord)) return false;
    WireRecord record;
    std::memcpy(&record, data + pos, sizeof(record));
    pos += sizeof(record);
    if (size - pos < size_t{record.len1} + record.len2) return false;
    fn(record, data + pos, data + pos + record.len1);
    pos += size_t{record.len1} + record.len2;
  }
  return true;
}

}  // namespace preload_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PRELOAD_WIRE_FORMAT_H_
