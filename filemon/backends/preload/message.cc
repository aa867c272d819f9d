#include "filemon/backends/preload/message.h"

#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {
namespace record {
namespace {

size_t Begin(ByteAppender& out, WireKind kind, int pid) {
  size_t start = out.size();
  WireRecord record{};
  record.kind = kind;
  record.pid = pid;
  out.Append(&record, sizeof(record));
  return start;
}

WireRecord* At(ByteAppender& out, size_t start) {
  return reinterpret_cast<WireRecord*>(out.data() + start);
}

void Finish(ByteAppender& out, size_t start, size_t len1, size_t len2) {
  if (out.overflow()) return;
  At(out, start)->len1 = static_cast<uint16_t>(len1);
  At(out, start)->len2 = static_cast<uint16_t>(len2);
}

}  // namespace

FILEMON_START_TEXT void AppendPaths(ByteAppender& out, const void* args) {
  const auto& a = *static_cast<const PathArgs*>(args);
  const PathOptions options{g_absolute};
  size_t start = Begin(out, a.kind, a.pid);
  size_t len1 = AppendPath(out, a.dirfd1, a.path1, a.rule1, options);
  size_t len2 =
      a.path2 == nullptr ? 0 : AppendPath(out, a.dirfd2, a.path2, PathRule::kAsPassed, options);
  Finish(out, start, len1, len2);
}

void AppendLiteral(ByteAppender& out, const void* args) {
  const auto& a = *static_cast<const LiteralArgs*>(args);
  size_t start = Begin(out, a.kind, a.pid);
  out.Append(a.text, a.size);
  Finish(out, start, a.size, 0);
}

void AppendComment(ByteAppender& out, const void* args) {
  const auto& a = *static_cast<const CommentArgs*>(args);
  size_t start = Begin(out, WireKind::kComment, a.pid);
  size_t before = out.size();
  out.Append(" preload: ", 10);
  for (const char* s : a.pieces) out.Append(s, Length(s));
  Finish(out, start, out.size() - before, 0);
}

FILEMON_START_TEXT void AppendNumbers(ByteAppender& out, const void* args) {
  const auto& n = *static_cast<const NumbersArgs*>(args);
  size_t start = Begin(out, n.kind, n.a);
  Finish(out, start, 0, 0);
  if (out.overflow()) return;
  if (n.kind == WireKind::kFork) {
    At(out, start)->child_pid = n.b;
    At(out, start)->status = n.c;
    At(out, start)->signal = n.d;
  } else {
    At(out, start)->status = n.b;
    At(out, start)->signal = n.c;
  }
}

}  // namespace record

void MessageBuilder::SendAlone(AppendFn append, const void* args) {
  BasicMessage<kMaxMessage> alone(type_);
  alone.Put(append, args);
  alone.Send();
}

}  // namespace preload_internal
}  // namespace filemon
