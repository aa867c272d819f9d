#include "filemon/backends/ebpf/event_reader.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "filemon/backends/path_rules.h"
#include "filemon/core/record.h"

namespace filemon {
namespace ebpf_internal {
namespace {

using path_rules::AppendJoined;
using path_rules::IsAbsolute;
using path_rules::Text;
using ptrace_internal::Op;

constexpr uint64_t kAtEmptyPath = 0x1000;  // linux/fcntl.h

// A path as the process passed it, under the directory the kernel resolved it against.
absl::string_view Resolve(absl::string_view path, absl::string_view dir, Text* out) {
  if (dir.empty()) {
    out->Append(path);
  } else {
    AppendJoined(dir, path, out);
  }
  return out->view();
}

}  // namespace

fe_plan PlanFor(Op op, const TraceOptions& options) {
  fe_plan p;
  memset(&p, 0, sizeof(p));
  p.path1 = p.dir1 = p.path2 = p.dir2 = p.flags_arg = FE_NONE;
  p.op = static_cast<uint8_t>(op);
  // With probes, a failed lookup of an absent path is sent too: any open (EventReader drops an
  // O_CREAT one, by its flags), and exec and the stat family only when they fail.
  const uint8_t probe = options.probes ? FE_PLAN_PROBE : 0;
  const uint8_t probe_only = FE_PLAN_PROBE | FE_PLAN_PROBE_ONLY;
  switch (op) {
    case Op::kOpen:
      p.plan_flags = probe;
      p.path1 = 0;
      p.flags_arg = 1;
      break;
    case Op::kCreat:
    case Op::kUnlink:
    case Op::kRmdir:
      p.path1 = 0;
      break;
    case Op::kOpenat2:
      p.plan_flags = FE_PLAN_HOW;
      [[fallthrough]];
    case Op::kOpenat:
      p.plan_flags |= probe;
      p.dir1 = 0;
      p.path1 = 1;
      p.flags_arg = 2;
      break;
    case Op::kUnlinkat:
      p.dir1 = 0;
      p.path1 = 1;
      break;
    case Op::kChdir:
      // With --absolute, the directory the call made current; else the path as passed.
      if (options.absolute_paths) {
        p.plan_flags = FE_PLAN_CWD;
      } else {
        p.path1 = 0;
      }
      break;
    case Op::kFchdir:
      p.plan_flags = FE_PLAN_CWD;
      break;
    case Op::kRename:
    case Op::kLink:
      p.path1 = 0;
      p.path2 = 1;
      break;
    case Op::kLinkat:
      p.flags_arg = 4;
      [[fallthrough]];
    case Op::kRenameat:
    case Op::kRenameat2:
      p.dir1 = 0;
      p.path1 = 1;
      p.dir2 = 2;
      p.path2 = 3;
      break;
    case Op::kSymlink:
      p.plan_flags = FE_PLAN_CONTENTS;
      p.path1 = 0;
      p.path2 = 1;
      break;
    case Op::kSymlinkat:
      p.plan_flags = FE_PLAN_CONTENTS;
      p.path1 = 0;
      p.dir2 = 1;
      p.path2 = 2;
      break;
    case Op::kExecve:  // a successful exec is the exec event
    case Op::kStatPath:
      if (!options.probes) {
        p.op = 0;
        break;
      }
      p.plan_flags = probe_only;
      p.path1 = 0;
      break;
    case Op::kExecveat:
    case Op::kStatAt:
      if (!options.probes) {
        p.op = 0;
        break;
      }
      p.plan_flags = probe_only;
      p.dir1 = 0;
      p.path1 = 1;
      break;
    default:  // ptrace is not restricted
      p.op = 0;
      break;
  }
  return p;
}

struct EventReader::Scratch {
  char out1[2 * PATH_MAX + 2];
  char out2[2 * PATH_MAX + 2];
  char comment[256];
};

EventReader::EventReader(const TraceOptions& options, RecordSink* sink)
    : options_(options), sink_(sink), scratch_(new Scratch) {}

EventReader::~EventReader() = default;

void EventReader::Comment(uint32_t pid, absl::string_view text) {
  Text c(scratch_->comment, sizeof(scratch_->comment));
  c.Append(" filemon: pid ").AppendInt(pid).Append(": ").Append(text);
  sink_->Add(Record::Comment(c.view()));
}

absl::Status EventReader::ReportLosses(uint64_t lost_records, RecordSink* sink) const {
  const uint64_t lost = lost_records + malformed_;
  if (lost == 0 && untraced_ == 0) return absl::OkStatus();
  std::string what;
  if (lost != 0) {
    sink->Add(Record::Comment(absl::StrCat(" filemon: lost ", lost, " records")));
    what = absl::StrCat("lost ", lost, " records (the ring buffer was full)");
  }
  if (untraced_ != 0) {
    absl::StrAppend(&what, what.empty() ? "" : "; ", untraced_,
                    " processes not traced (the kernel's map of traced processes was full; "
                    "the log names each)");
  }
  return absl::DataLossError(absl::StrCat("ebpf backend: ", what, "; the log is incomplete"));
}

void EventReader::Add(const void* data, size_t size) {
  fe_header h;
  if (size < sizeof(h)) {
    ++malformed_;
    return;
  }
  memcpy(&h, data, sizeof(h));
  const char* bytes = static_cast<const char*>(data) + sizeof(h);
  size_t left = size - sizeof(h);
  absl::string_view s[FE_STRINGS];
  for (int i = 0; i < FE_STRINGS; ++i) {
    if (h.len[i] > left) {
      ++malformed_;
      return;
    }
    s[i] = absl::string_view(bytes, h.len[i]);
    bytes += h.len[i];
    left -= h.len[i];
  }
  switch (h.type) {
    case FE_FORK:
      sink_->Add(Record::Fork(h.pid, h.ret));
      if (h.flags & FE_UNTRACED) {  // no X will come
        ++untraced_;
        Comment(static_cast<uint32_t>(h.ret),
                "not traced: the kernel's map of traced processes was full; its records, and "
                "its descendants', are missing");
        return;
      }
      live_.insert(static_cast<uint32_t>(h.ret));
      return;
    case FE_EXIT:
      live_.erase(h.pid);
      probed_.Forget(h.pid);
      sink_->Add(Record::Exit(h.pid, static_cast<int64_t>(h.arg), h.ret));
      return;
    case FE_EXEC: {
      Text exe(scratch_->out1, sizeof(scratch_->out1));
      if (IsAbsolute(s[0])) {
        exe.Append(s[0]);
      } else if (!s[1].empty()) {
        AppendJoined(s[1], s[0], &exe);  // a relative name under the cwd, or the image itself
      } else {
        exe.Append(s[0].empty() ? absl::string_view("<unknown>") : s[0]);
      }
      sink_->Add(Record::Path(RecordKind::kExec, h.pid, exe.view()));
      return;
    }
    case FE_CALL:
      AddCall(h, s);
      return;
    default:
      ++malformed_;
  }
}

void EventReader::AddProbe(const fe_header& h, const absl::string_view* s) {
  const Op op = static_cast<Op>(h.op);
  const bool open = op == Op::kOpen || op == Op::kOpenat || op == Op::kOpenat2;
  // An open that could have created the file looked for no file; an empty path names none
  // (and `N pid ` would be a malformed line to bmake).
  if ((open && (h.arg & O_CREAT)) || s[0].empty()) return;
  Text out(scratch_->out1, sizeof(scratch_->out1));
  absl::string_view path = Resolve(s[0], s[1], &out);
  if (probed_.First(h.pid, path)) sink_->Add(Record::Path(RecordKind::kNotFound, h.pid, path));
}

void EventReader::AddCall(const fe_header& h, const absl::string_view* s) {
  if (h.flags & FE_UNREADABLE) {
    Comment(h.pid, "a path argument could not be read; its record is lost");
    return;
  }
  if (h.ret < 0) {
    AddProbe(h, s);
    return;
  }
  Text out1(scratch_->out1, sizeof(scratch_->out1));
  Text out2(scratch_->out2, sizeof(scratch_->out2));
  const Op op = static_cast<Op>(h.op);
  const uint32_t pid = h.pid;
  switch (op) {
    case Op::kOpen:
    case Op::kOpenat:
    case Op::kOpenat2: {
      bool at =
          op != Op::kOpen && (h.flags & FE_DIR1_FD) && !s[1].empty() && !options_.absolute_paths;
      path_rules::AddOpenRecords(sink_, pid, h.arg, s[0], Resolve(s[0], s[1], &out1),
                                 at ? path_rules::OpenClue::kAt : path_rules::OpenClue::kNone);
      return;
    }
    case Op::kCreat:
      path_rules::AddOpenRecords(sink_, pid, O_WRONLY | O_CREAT | O_TRUNC, s[0],
                                 Resolve(s[0], s[1], &out1), path_rules::OpenClue::kNone);
      return;
    case Op::kChdir:
    case Op::kFchdir:
      if (!s[0].empty() || !s[1].empty()) {
        sink_->Add(Record::Path(RecordKind::kChdir, pid, s[1].empty() ? s[0] : s[1]));
      } else {
        Comment(pid, "the new working directory could not be named; its record is lost");
      }
      return;
    case Op::kRename:
    case Op::kRenameat:
    case Op::kRenameat2:
    case Op::kLink:
    case Op::kLinkat:
    case Op::kSymlink:
    case Op::kSymlinkat: {
      bool symlink = op == Op::kSymlink || op == Op::kSymlinkat;
      // linkat(fd, "", ..., AT_EMPTY_PATH) names fd's file: its path is dir1 itself.
      bool by_fd = op == Op::kLinkat && (h.arg & kAtEmptyPath) && s[0].empty();
      if (by_fd && s[1].empty()) return;  // the file has no name left (an O_TMPFILE...)
      absl::string_view from = symlink ? s[0] : Resolve(s[0], s[1], &out1);
      RecordKind kind = (op == Op::kRename || op == Op::kRenameat || op == Op::kRenameat2)
                            ? RecordKind::kMove
                            : RecordKind::kLink;
      sink_->Add(Record::TwoPaths(kind, pid, from, Resolve(s[2], s[3], &out2)));
      return;
    }
    case Op::kUnlink:
    case Op::kUnlinkat:
    case Op::kRmdir:
      sink_->Add(Record::Path(RecordKind::kDelete, pid, Resolve(s[0], s[1], &out1)));
      return;
    default:
      return;
  }
}

}  // namespace ebpf_internal
}  // namespace filemon
