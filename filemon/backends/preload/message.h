// File: filemon/backends/preload/message.h
//
// One message of wire records (wire_format.h) built on the caller's stack and sent whole
// through the channels (channel.h): the records of one call travel together, so that the log
// never separates them. Paths are written by the path rules (path_rule.h).
//
// A record that does not fit behind the ones already there sends those first (the supervisor
// reads one process's messages in order, so the log gets the same records in the same order);
// a record that does not fit even alone goes out in a message of its own of kMaxMessage bytes,
// which holds any record (two paths of PATH_MAX with their prefixes). Nothing is dropped. The
// buffers of the common messages are small because a buffer's first byte is the deepest the
// stack has to reach, and a stack page never touched before costs a page fault.
//
// libc-only, async-signal-safe and vfork-safe: no allocation, raw system calls only.
//
// Example:
//   Message m;
//   m.Add(WireKind::kRead, Pid(), dirfd, path);
//   m.Send();

#ifndef FILEMON_BACKENDS_PRELOAD_MESSAGE_H_
#define FILEMON_BACKENDS_PRELOAD_MESSAGE_H_

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "filemon/backends/preload/channel.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/path_rule.h"
#include "filemon/backends/preload/wire_format.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// Record writing into a message buffer. Each function appends one record to `out` (its
// arguments in `args`, a struct below) and leaves `out` marked as overflowing when it did not
// fit.
namespace record {

struct PathArgs {
  WireKind kind;
  int pid;
  int dirfd1;
  const char* path1;
  int dirfd2;
  const char* path2;  // nullptr: a record of one path
  PathRule rule1;     // the second path is always kAsPassed
};
void AppendPaths(ByteAppender& out, const void* args);

struct LiteralArgs {
  WireKind kind;
  int pid;
  const char* text;
  size_t size;
};
void AppendLiteral(ByteAppender& out, const void* args);

// "# preload: " and the pieces.
struct CommentArgs {
  int pid;
  const char* pieces[5];
};
void AppendComment(ByteAppender& out, const void* args);

// F (`a` the parent, `b` the child, `c` the token, `d` the alternate parent) or X (`a` the
// pid, `b` the code, `c` the signal) or kUnenterable (`a` the pid).
struct NumbersArgs {
  WireKind kind;
  int a, b, c;
  int d = 0;
};
void AppendNumbers(ByteAppender& out, const void* args);

}  // namespace record

// One message under construction in a caller's buffer (BasicMessage: on the stack); see the top
// of this file.
class MessageBuilder {
 public:
  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;

  bool empty() const { return out_.size() == sizeof(MessageHeader); }
  // The message so far (its header's size is set by Send).
  const char* data() const { return out_.data(); }
  size_t size() const { return out_.size(); }

  // A record whose path(s) are resolved by the path rules (path_rule.h). Add and AddLiteral
  // are on the wrappers' path: always inline, as Put.
  __attribute__((always_inline)) void Add(WireKind kind, int pid, int dirfd1, const char* path1,
                                          int dirfd2 = AT_FDCWD, const char* path2 = nullptr,
                                          PathRule rule1 = PathRule::kAsPassed) {
    const record::PathArgs args{kind, pid, dirfd1, path1, dirfd2, path2, rule1};
    Put(record::AppendPaths, &args);
  }
  // A record whose path is taken literally.
  __attribute__((always_inline)) void AddLiteral(WireKind kind, int pid, const char* text,
                                                 size_t size) {
    const record::LiteralArgs args{kind, pid, text, size};
    Put(record::AppendLiteral, &args);
  }
  // A record with the absolute form of an exec'd path (PathRule::kExec).
  void AddExecPath(WireKind kind, int pid, const char* path) {
    Add(kind, pid, AT_FDCWD, path, AT_FDCWD, nullptr, PathRule::kExec);
  }
  // A comment of this process: " preload: " and the pieces, joined.
  void AddComment(const char* a, const char* b = "", const char* c = "", const char* d = "",
                  const char* e = "") {
    const record::CommentArgs args{Pid(), {a, b, c, d, e}};
    Put(record::AppendComment, &args);
  }
  // `token`: the creation's (0: the only F of this creation; wire_format.h).
  void AddFork(int parent, int child, uint32_t token) {
    const record::NumbersArgs args{WireKind::kFork, parent, child, static_cast<int>(token)};
    Put(record::AppendNumbers, &args);
  }
  // The F of a process started with an environment that an unenterable program passed on:
  // `parent` the kernel's, `alternate` the program's process (see WireRecord::signal).
  void AddForkWithAlternate(int parent, int child, int alternate) {
    const record::NumbersArgs args{WireKind::kFork, parent, child, 0, alternate};
    Put(record::AppendNumbers, &args);
  }
  // `pid` runs a program the interposer cannot enter (WireKind::kUnenterable).
  void AddUnenterable(int pid) {
    const record::NumbersArgs args{WireKind::kUnenterable, pid, 0, 0};
    Put(record::AppendNumbers, &args);
  }
  // `pid` is handed over to a nested trace's session (WireKind::kHandedOver).
  void AddHandedOver(int pid) {
    const record::NumbersArgs args{WireKind::kHandedOver, pid, 0, 0};
    Put(record::AppendNumbers, &args);
  }
  // Inline: every process runs it at its exit, in RecordExit (start_text.h).
  __attribute__((always_inline)) void AddExit(int pid, int code, int signal) {
    const record::NumbersArgs args{WireKind::kExit, pid, code, signal};
    Put(record::AppendNumbers, &args);
  }

  // Sends the records added since the last send, if any.
  void Send() {
    if (empty()) return;
    const uint16_t size = static_cast<uint16_t>(out_.size());  // <= kMaxMessage
    memcpy(out_.data() + offsetof(MessageHeader, size), &size, sizeof(size));
    SendBytes(out_.data(), out_.size());
  }

 protected:
  MessageBuilder(char* buffer, size_t capacity, MessageType type)
      : type_(type), out_(buffer, capacity) {}

  // Starts over with only the header.
  void Reset() {
    out_.Truncate(0);
    MessageHeader header{};
    header.type = type_;
    header.sender = Pid();
    out_.Append(&header, sizeof(header));
  }

 private:
  using AppendFn = void (*)(ByteAppender& out, const void* args);

  // Appends one record; see the top of this file for one that does not fit. Always inline, so
  // that `append` is a direct call on the wrappers' path.
  __attribute__((always_inline)) void Put(AppendFn append, const void* args) {
    while (true) {
      const size_t start = out_.size();
      append(out_, args);
      if (!out_.overflow()) return;
      out_.Truncate(start);
      if (start == sizeof(MessageHeader)) break;
      Send();
      Reset();
    }
    if (out_.capacity() < kMaxMessage) SendAlone(append, args);
  }
  // Sends one record in a kMaxMessage buffer of its own.
  __attribute__((noinline, cold)) void SendAlone(AppendFn append, const void* args);

  const MessageType type_;
  ByteAppender out_;
};

// A message in `Capacity` bytes of its own (on the caller's stack).
template <size_t Capacity>
class BasicMessage : public MessageBuilder {
 public:
  explicit BasicMessage(MessageType type = MessageType::kRecords)
      : MessageBuilder(buffer_, Capacity, type) {
    Reset();
  }

 private:
  alignas(8) char buffer_[Capacity];
};

// The message for one call's records (nearly always a few hundred bytes).
using Message = BasicMessage<1024>;
// Messages of many records (process start, spawn file actions): up to what one pipe write
// carries atomically.
using BatchMessage = BasicMessage<kMaxPipeMessage>;

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_MESSAGE_H_
