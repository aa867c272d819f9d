#include "filemon/backends/preload/record_dispatcher.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filemon/core/record.h"

namespace filemon {
namespace preload_internal {
namespace {

bool RecordKindFromWire(WireKind wire, RecordKind* kind) {
  switch (wire) {
    case WireKind::kComment:
      *kind = RecordKind::kComment;
      return true;
    default:
      return RecordKindFromLetter(static_cast<char>(wire), kind);
  }
}

}  // namespace

void RecordDispatcher::AddRoot(int32_t root, RecordSink* sink) {
  // A new process: what an earlier one of the same pid left (its X, its probes) is not its.
  exit_written_.erase(root);
  probes_.Forget(root);
  routes_.insert_or_assign(root, sink);
  if (last_pid_ == root) last_sink_ = sink;
}

void RecordDispatcher::RemoveSink(RecordSink* sink) {
  std::vector<HeldExit> kept;
  for (const HeldExit& x : held_exits_) {
    if (x.sink == sink) {
      unenterable_.erase(x.pid);
      sink->Add(Record::Exit(x.pid, x.code, x.signal));
    } else {
      kept.push_back(x);
    }
  }
  held_exits_.swap(kept);
  refused_.erase(sink);
  std::vector<int32_t> gone;
  for (const auto& [pid, routed] : routes_) {
    if (routed == sink) gone.push_back(pid);
  }
  for (int32_t pid : gone) {
    routes_.erase(pid);
    exit_written_.erase(pid);
    prepared_.erase(pid);  // a root whose end the supervisor could not learn
    probes_.Forget(pid);
  }
  if (last_sink_ == sink) {
    last_pid_ = 0;
    last_sink_ = nullptr;
  }
}

RecordSink* RecordDispatcher::Route(int32_t pid) {
  if (pid == last_pid_ && last_sink_ != nullptr) return last_sink_;
  RecordSink* sink = fallback_;
  auto it = routes_.find(pid);
  if (it != routes_.end()) {
    sink = it->second;
  } else if (sink != nullptr) {
    routes_.emplace(pid, sink);
  }
  last_pid_ = pid;
  last_sink_ = sink;
  return sink;
}

bool RecordDispatcher::FirstFork(const WireRecord& w) {
  const uint32_t token = static_cast<uint32_t>(w.status);
  if (token == 0) return true;
  const auto key = std::make_tuple(w.pid, w.child_pid, token);
  if (half_seen_.erase(key) > 0) return false;
  half_seen_.insert(key);
  return true;
}

bool RecordDispatcher::FirstProbe(int32_t pid, absl::string_view path) {
  return probes_.First(pid, path);
}

int32_t RecordDispatcher::ForkParent(const WireRecord& w) const {
  if (w.signal != 0 && !InTree(w.pid) && InTree(w.signal)) return w.signal;
  return w.pid;
}

void RecordDispatcher::WriteExit(RecordSink* sink, int32_t pid, int32_t code, int32_t signal) {
  if (unenterable_.contains(pid)) {
    held_exits_.push_back({sink, pid, code, signal});
    return;
  }
  sink->Add(Record::Exit(pid, code, signal));
}

void RecordDispatcher::FlushHeldExit(int32_t pid) {
  if (unenterable_.erase(pid) == 0) return;
  for (auto it = held_exits_.begin(); it != held_exits_.end(); ++it) {
    if (it->pid != pid) continue;
    it->sink->Add(Record::Exit(it->pid, it->code, it->signal));
    held_exits_.erase(it);
    return;
  }
}

void RecordDispatcher::FlushHeldExits() {
  std::vector<HeldExit> held;
  held.swap(held_exits_);
  for (const HeldExit& x : held) {
    unenterable_.erase(x.pid);
    x.sink->Add(Record::Exit(x.pid, x.code, x.signal));
  }
}

void RecordDispatcher::MarkUnenterable(int32_t pid) {
  if (Route(pid) != nullptr) unenterable_.insert(pid);
}

RecordSink* RecordDispatcher::Dispatch(const WireRecord& w, const char* path1, const char* path2) {
  if (w.kind == WireKind::kUnenterable || w.kind == WireKind::kHandedOver ||
      w.kind == WireKind::kPrepared) {
    if (sender_ != nullptr && !Allowed(*sender_, w.pid)) return nullptr;
    if (w.kind == WireKind::kUnenterable) {
      MarkUnenterable(w.pid);
    } else if (Route(w.pid) == nullptr) {
      return nullptr;
    } else if (w.kind == WireKind::kHandedOver) {
      Disown(w.pid);  // its X is the nested log's
    } else {
      prepared_.insert(w.pid);
    }
    return nullptr;
  }
  RecordKind kind;
  if (!RecordKindFromWire(w.kind, &kind)) return nullptr;
  const int32_t pid = kind == RecordKind::kFork ? ForkParent(w) : w.pid;
  if (kind == RecordKind::kComment && pid == 0 && sender_ != nullptr && sender_->tree != nullptr) {
    // A comment of no process (auto's ptrace helper forwards the ptrace backend's): its
    // sender's log.
    sender_->tree->Add(Record::Comment(absl::string_view(path1, w.len1)));
    return sender_->tree;
  }
  if (sender_ != nullptr && !Allowed(*sender_, pid)) return nullptr;
  RecordSink* sink = Route(pid);
  if (sink == nullptr) {
    ++unrouted_;
    return nullptr;
  }
  Record r;
  r.kind = kind;
  r.pid = pid;
  switch (kind) {
    case RecordKind::kFork:
      // The child belongs to its creator's tree, whichever side's F comes first.
      routes_.insert_or_assign(w.child_pid, sink);
      if (last_pid_ == w.child_pid) last_sink_ = sink;
      if (!FirstFork(w)) return sink;
      r.child_pid = w.child_pid;
      FlushHeldExit(w.child_pid);        // a new process may reuse an old pid
      exit_written_.erase(w.child_pid);  // likewise
      break;
    case RecordKind::kExit:
      if (!exit_written_.insert(w.pid).second) return sink;  // already written
      probes_.Forget(w.pid);
      WriteExit(sink, w.pid, w.status, w.signal);
      return sink;
    case RecordKind::kNotFound:
      if (!FirstProbe(w.pid, absl::string_view(path1, w.len1))) return sink;
      r.path = absl::string_view(path1, w.len1);
      break;
    default:
      r.path = absl::string_view(path1, w.len1);
      r.path2 = absl::string_view(path2, w.len2);
      break;
  }
  sink->Add(r);
  return sink;
}

bool RecordDispatcher::Allowed(const Sender& sender, int32_t pid) {
  if (!sender.checked) return true;
  // Without a fallback, Route is the lookup the record's dispatch makes next, cached, and adds
  // nothing for a pid of no tree.
  RecordSink* tree = fallback_ == nullptr ? Route(pid) : TreeOf(pid);
  if (sender.tree != nullptr && tree == sender.tree) return true;
  Refused& refused = refused_[sender.tree];
  if (refused.count++ == 0) {
    refused.first_claimed = pid;
    refused.first_sender = sender.pid;
  }
  return false;
}

RecordDispatcher::Refused RecordDispatcher::TakeRefused(RecordSink* tree) {
  auto it = refused_.find(tree);
  if (it == refused_.end()) return Refused();
  Refused taken = it->second;
  refused_.erase(it);
  return taken;
}

void RecordDispatcher::HandleRecords(const char* data, size_t size, const Sender& sender) {
  sender_ = sender.checked ? &sender : nullptr;
  RecordSink* last = nullptr;
  const bool ok =
      DecodeRecords(data, size, [&](const WireRecord& w, const char* p1, const char* p2) {
        if (RecordSink* sink = Dispatch(w, p1, p2)) last = sink;
      });
  sender_ = nullptr;
  if (ok) return;
  if (last == nullptr) last = fallback_;
  if (last == nullptr) {
    ++unrouted_;
    return;
  }
  last->Add(Record::Comment(" preload: a malformed message from the interposer"));
}

void RecordDispatcher::HandleExit(const WireRecord& record, const Sender& sender) {
  if (!Allowed(sender, record.pid)) return;
  probes_.Forget(record.pid);
  if (exit_written_.erase(record.pid) > 0) return;  // the process wrote its own X
  const bool known = InTree(record.pid);
  RecordSink* sink = Route(record.pid);
  if (sink == nullptr) {
    ++unrouted_;
    return;
  }
  // The interposer writes the X of a process that ends by itself, and its X comes before the
  // reaping's; a process of the log without one ran its last program without the
  // interposer, unnoticed by the wrappers (no comment named it as unenterable).
  if (known && record.signal == 0 && !unenterable_.contains(record.pid)) {
    sink->Add(Record::Comment(absl::StrCat(
        " filemon: pid ", record.pid,
        " ran its last program untraced: it ended without the interposer's record of its end, "
        "so what that program and the programs it started did is missing (the loader did not "
        "load the interposer, or the program left by a raw system call)")));
  }
  WriteExit(sink, record.pid, record.status, record.signal);
}

bool RecordDispatcher::ForgetRoot(int32_t pid) {
  if (prepared_.erase(pid) == 0) return false;  // never traced: no X, as with the device
  probes_.Forget(pid);
  return exit_written_.erase(pid) == 0;
}

void RecordDispatcher::HandleRootExit(int32_t pid, int32_t code, int32_t signal) {
  if (!ForgetRoot(pid)) return;
  RecordSink* sink = Route(pid);
  if (sink == nullptr) return;
  WriteExit(sink, pid, code, signal);
}

void RecordDispatcher::AddComment(int32_t pid, absl::string_view text) {
  RecordSink* sink = Route(pid);
  if (sink == nullptr) {
    ++unrouted_;
    return;
  }
  sink->Add(Record::Comment(text));
}

}  // namespace preload_internal
}  // namespace filemon
