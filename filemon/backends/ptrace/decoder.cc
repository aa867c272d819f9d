#include "filemon/backends/ptrace/decoder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>

#include "filemon/backends/ptrace/lookup_precheck.h"
#include "filemon/core/record.h"

namespace filemon {
namespace ptrace_internal {
namespace {

using path_rules::AppendJoined;
using path_rules::IsAbsolute;

constexpr size_t kPathCapacity = PATH_MAX + 1;
constexpr size_t kJoinedCapacity = 2 * PATH_MAX + 2;
constexpr uint64_t kPageSize = 4096;

// linux/fcntl.h values, spelled out so that the decoder does not depend on which libc header
// defines them; they are the same on every Linux ABI.
constexpr uint64_t kAtEmptyPath = 0x1000;
constexpr uint64_t kAtSymlinkNofollow = 0x100;

// Reads the NUL-terminated string at `addr` of `tid` into `base` (capacity `cap`), page by page
// since a path may end just before an unmapped page. Returns its length, or -errno (-ENAMETOOLONG
// when no NUL was found within `cap` bytes).
ssize_t ReadRemoteString(pid_t tid, uint64_t addr, char* base, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    uint64_t remote = addr + got;
    size_t chunk = kPageSize - (remote % kPageSize);
    if (chunk > cap - got) chunk = cap - got;
    iovec local_iov{base + got, chunk};
    iovec remote_iov{reinterpret_cast<void*>(remote), chunk};
    ssize_t n = process_vm_readv(tid, &local_iov, 1, &remote_iov, 1, 0);
    if (n <= 0) return n < 0 ? -errno : -EFAULT;
    const void* nul = memchr(base + got, '\0', static_cast<size_t>(n));
    if (nul != nullptr) return static_cast<const char*>(nul) - base;
    got += static_cast<size_t>(n);
  }
  return -ENAMETOOLONG;
}

int FdArg(uint64_t v) { return static_cast<int>(static_cast<int32_t>(v)); }

// The path lookup of a call traced for its probe.
struct Lookup {
  int dirfd = AT_FDCWD;
  uint64_t path_addr = 0;
  FinalLink final_link = FinalLink::kFollow;
};

// The lookup `call` makes; false for a call that is not traced for its probe.
bool LookupOf(const PendingCall& call, Lookup* out) {
  const uint64_t* a = call.args;
  switch (call.op) {
    case Op::kExecve:
      *out = Lookup{AT_FDCWD, a[0], FinalLink::kFollow};
      return true;
    case Op::kExecveat:
      *out = Lookup{FdArg(a[0]), a[1], FinalLink::kFollow};
      return true;
    case Op::kStatPath:
    case Op::kStatAt: {
      const SyscallEntry* e = FindProbeEntry(call.abi, call.nr);
      if (e == nullptr) return false;
      *out = call.op == Op::kStatPath ? Lookup{AT_FDCWD, a[0], e->final_link}
                                      : Lookup{FdArg(a[0]), a[1], e->final_link};
      if (e->flags_arg < 6 && (a[e->flags_arg] & kAtSymlinkNofollow) != 0) {
        out->final_link = FinalLink::kNoFollow;
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

struct Decoder::Scratch {
  char raw1[kPathCapacity];
  char raw2[kPathCapacity];
  char dir[kPathCapacity];
  char out1[kJoinedCapacity];
  char out2[kJoinedCapacity];
  char proc[64];
  char comment[kJoinedCapacity + 128];
};

Decoder::Decoder(const TraceOptions& options, RecordSink* sink)
    : options_(options), sink_(sink), scratch_(new Scratch) {}

Decoder::~Decoder() = default;

void Decoder::Comment(pid_t pid, absl::string_view text) {
  Text c(scratch_->comment, sizeof(scratch_->comment));
  c.Append(" filemon: ");
  if (pid != 0) c.Append("pid ").AppendInt(pid).Append(": ");
  c.Append(text);
  sink_->Add(Record::Comment(c.view()));
}

bool Decoder::ReadPath(pid_t tid, pid_t tgid, uint64_t addr, Text* out) {
  out->Clear();
  ssize_t n = ReadRemoteString(tid, addr, const_cast<char*>(out->view().data()), kPathCapacity);
  if (n >= 0) {
    out->Resize(static_cast<size_t>(n));
    return true;
  }
  int error = static_cast<int>(-n);
  Text c(scratch_->comment, sizeof(scratch_->comment));
  c.Append(" filemon: pid ").AppendInt(tgid).Append(": a path argument could not be read (");
  c.Append(strerror(error)).Append("); its record is lost");
  sink_->Add(Record::Comment(c.view()));
  return false;
}

bool Decoder::ReadProcLink(pid_t tid, absl::string_view what, int64_t fd, Text* out) {
  Text p(scratch_->proc, sizeof(scratch_->proc));
  p.Append("/proc/").AppendInt(tid).Append("/").Append(what);
  if (fd >= 0) p.AppendInt(fd);
  char* base = const_cast<char*>(out->view().data());
  out->Clear();
  ssize_t n = readlink(p.c_str(), base, kPathCapacity - 1);
  if (n < 0) return false;
  out->Resize(static_cast<size_t>(n));
  return true;
}

bool Decoder::Resolve(pid_t tid, int dirfd, absl::string_view path, Text* out) {
  out->Clear();
  bool relative = !IsAbsolute(path);
  bool use_dirfd = relative && dirfd != AT_FDCWD;
  bool use_cwd = relative && dirfd == AT_FDCWD && options_.absolute_paths;
  if (!use_dirfd && !use_cwd) {
    out->Append(path);
    return false;
  }
  Text dir(scratch_->dir, sizeof(scratch_->dir));
  bool ok = use_dirfd ? ReadProcLink(tid, "fd/", dirfd, &dir) : ReadProcLink(tid, "cwd", -1, &dir);
  if (!ok) {  // the fd is not a directory we can name: keep the path as passed
    out->Append(path);
    return false;
  }
  AppendJoined(dir.view(), path, out);
  return use_dirfd;
}

void Decoder::EmitOpen(pid_t tid, pid_t tgid, int dirfd, uint64_t path_addr, uint64_t flags,
                       AtClue clue) {
  Text raw(scratch_->raw1, sizeof(scratch_->raw1));
  if (!ReadPath(tid, tgid, path_addr, &raw)) return;
  Text out(scratch_->out1, sizeof(scratch_->out1));
  bool prefixed = Resolve(tid, dirfd, raw.view(), &out);
  bool at = clue == AtClue::kWhenPrefixed && prefixed && !options_.absolute_paths;
  path_rules::AddOpenRecords(sink_, tgid, flags, raw.view(), out.view(),
                             at ? path_rules::OpenClue::kAt : path_rules::OpenClue::kNone);
}

void Decoder::EmitProbe(pid_t tid, pid_t tgid, int dirfd, uint64_t path_addr) {
  Text raw(scratch_->raw1, sizeof(scratch_->raw1));
  // An empty path names nothing (and `N pid ` would be a malformed line to bmake).
  if (!ReadPath(tid, tgid, path_addr, &raw) || raw.view().empty()) return;
  Text out(scratch_->out1, sizeof(scratch_->out1));
  Resolve(tid, dirfd, raw.view(), &out);
  if (!probed_.First(tgid, out.view())) return;  // said once already
  sink_->Add(Record::Path(RecordKind::kNotFound, tgid, out.view()));
}

void Decoder::ForgetProcess(pid_t tgid) { probed_.Forget(tgid); }

bool Decoder::ProbeNeedsExit(pid_t tid, pid_t tgid, const PendingCall& call, Judge judge) {
  Lookup lookup;
  if (!LookupOf(call, &lookup)) return true;
  Text raw(scratch_->raw1, sizeof(scratch_->raw1));
  ssize_t n = ReadRemoteString(tid, lookup.path_addr, scratch_->raw1, kPathCapacity);
  if (n < 0) return true;  // the exit stop says whether a record is lost
  raw.Resize(static_cast<size_t>(n));
  if (raw.view().empty()) return false;  // names nothing: never a probe (see EmitProbe)
  // An exec fails with ENOENT also when the program exists and its interpreter (`#!`, the ELF
  // loader) does not, and that failure is a probe of the program's path: only the exit can tell.
  const bool exec = call.op == Op::kExecve || call.op == Op::kExecveat;
  if (judge == Judge::kByTracer && !exec &&
      FoundNow(tid, lookup.dirfd, raw.view(), lookup.final_link)) {
    return false;
  }
  Text out(scratch_->out1, sizeof(scratch_->out1));
  Resolve(tid, lookup.dirfd, raw.view(), &out);
  return !probed_.Seen(tgid, out.view());
}

bool Decoder::OnProbeFailure(pid_t tid, pid_t tgid, const PendingCall& call, int64_t rval) {
  if (!options_.probes || (rval != -ENOENT && rval != -ENOTDIR)) return false;
  const uint64_t* a = call.args;
  switch (call.op) {
    case Op::kOpen:
      if ((a[1] & O_CREAT) == 0) EmitProbe(tid, tgid, AT_FDCWD, a[0]);
      return true;
    case Op::kOpenat:
      if ((a[2] & O_CREAT) == 0) EmitProbe(tid, tgid, FdArg(a[0]), a[1]);
      return true;
    case Op::kOpenat2: {
      uint64_t flags = 0;
      iovec local_iov{&flags, sizeof(flags)};
      iovec remote_iov{reinterpret_cast<void*>(a[2]), sizeof(flags)};
      if (process_vm_readv(tid, &local_iov, 1, &remote_iov, 1, 0) == sizeof(flags) &&
          (flags & O_CREAT) == 0) {
        EmitProbe(tid, tgid, FdArg(a[0]), a[1]);
      }
      return true;
    }
    case Op::kExecve:
    case Op::kStatPath:
      EmitProbe(tid, tgid, AT_FDCWD, a[0]);
      return true;
    case Op::kExecveat:
    case Op::kStatAt:
      EmitProbe(tid, tgid, FdArg(a[0]), a[1]);
      return true;
    default:
      return false;
  }
}

void Decoder::OnExit(pid_t tid, pid_t tgid, const PendingCall& call, int64_t rval) {
  const uint64_t* a = call.args;
  if (rval < 0) {
    if (OnProbeFailure(tid, tgid, call, rval)) return;
    if (call.op == Op::kPtrace) {
      Text c(scratch_->out2, sizeof(scratch_->out2));
      c.Append("ptrace(request ").AppendInt(static_cast<int64_t>(a[0])).Append(") failed: ");
      c.Append(strerror(static_cast<int>(-rval)));
      c.Append(
          " (the process is traced by filemon; a traced process cannot trace its own "
          "children)");
      Comment(tgid, c.view());
    }
    return;
  }
  Text raw1(scratch_->raw1, sizeof(scratch_->raw1));
  Text raw2(scratch_->raw2, sizeof(scratch_->raw2));
  Text out1(scratch_->out1, sizeof(scratch_->out1));
  Text out2(scratch_->out2, sizeof(scratch_->out2));
  // One path (dirfd, path) → record of `kind`.
  auto one = [&](RecordKind kind, int dirfd, uint64_t path) {
    if (!ReadPath(tid, tgid, path, &raw1)) return;
    Resolve(tid, dirfd, raw1.view(), &out1);
    sink_->Add(Record::Path(kind, tgid, out1.view()));
  };
  // What the first path of L or M is.
  enum class From {
    kPath,      // a path, resolved like any other
    kContents,  // a symlink's contents, never resolved
    kPathOrFd,  // linkat with AT_EMPTY_PATH: an empty path names dirfd1's file
  };
  // Two paths → L or M.
  auto two = [&](RecordKind kind, int dirfd1, uint64_t path1, int dirfd2, uint64_t path2,
                 From from) {
    if (!ReadPath(tid, tgid, path1, &raw1) || !ReadPath(tid, tgid, path2, &raw2)) return;
    if (from == From::kContents) {
      out1.Clear();
      out1.Append(raw1.view());
    } else if (from == From::kPathOrFd && raw1.view().empty()) {
      out1.Clear();
      if (!ReadProcLink(tid, "fd/", dirfd1, &out1)) return;
    } else {
      Resolve(tid, dirfd1, raw1.view(), &out1);
    }
    Resolve(tid, dirfd2, raw2.view(), &out2);
    sink_->Add(Record::TwoPaths(kind, tgid, out1.view(), out2.view()));
  };
  switch (call.op) {
    case Op::kOpen:
      EmitOpen(tid, tgid, AT_FDCWD, a[0], a[1], AtClue::kNone);
      return;
    case Op::kCreat:
      EmitOpen(tid, tgid, AT_FDCWD, a[0], O_WRONLY | O_CREAT | O_TRUNC, AtClue::kNone);
      return;
    case Op::kOpenat:
      EmitOpen(tid, tgid, FdArg(a[0]), a[1], a[2], AtClue::kWhenPrefixed);
      return;
    case Op::kOpenat2: {
      uint64_t flags = 0;
      iovec local_iov{&flags, sizeof(flags)};
      iovec remote_iov{reinterpret_cast<void*>(a[2]), sizeof(flags)};
      if (process_vm_readv(tid, &local_iov, 1, &remote_iov, 1, 0) != sizeof(flags)) {
        Comment(tgid, "openat2: struct open_how could not be read; its record is lost");
        return;
      }
      EmitOpen(tid, tgid, FdArg(a[0]), a[1], flags, AtClue::kWhenPrefixed);
      return;
    }
    case Op::kChdir:
      if (options_.absolute_paths) {
        if (ReadProcLink(tid, "cwd", -1, &out1)) {
          sink_->Add(Record::Path(RecordKind::kChdir, tgid, out1.view()));
          return;
        }
      }
      one(RecordKind::kChdir, AT_FDCWD, a[0]);
      return;
    case Op::kFchdir:
      if (ReadProcLink(tid, "cwd", -1, &out1)) {
        sink_->Add(Record::Path(RecordKind::kChdir, tgid, out1.view()));
      } else {
        Comment(tgid, "fchdir: the new working directory could not be read; its record is lost");
      }
      return;
    case Op::kRename:
      two(RecordKind::kMove, AT_FDCWD, a[0], AT_FDCWD, a[1], From::kPath);
      return;
    case Op::kRenameat:
    case Op::kRenameat2:
      two(RecordKind::kMove, FdArg(a[0]), a[1], FdArg(a[2]), a[3], From::kPath);
      return;
    case Op::kLink:
      two(RecordKind::kLink, AT_FDCWD, a[0], AT_FDCWD, a[1], From::kPath);
      return;
    case Op::kLinkat:
      two(RecordKind::kLink, FdArg(a[0]), a[1], FdArg(a[2]), a[3],
          (a[4] & kAtEmptyPath) != 0 ? From::kPathOrFd : From::kPath);
      return;
    case Op::kSymlink:
      two(RecordKind::kLink, AT_FDCWD, a[0], AT_FDCWD, a[1], From::kContents);
      return;
    case Op::kSymlinkat:
      two(RecordKind::kLink, AT_FDCWD, a[0], FdArg(a[1]), a[2], From::kContents);
      return;
    case Op::kUnlink:
    case Op::kRmdir:
      one(RecordKind::kDelete, AT_FDCWD, a[0]);
      return;
    case Op::kUnlinkat:
      one(RecordKind::kDelete, FdArg(a[0]), a[1]);
      return;
    case Op::kExecve:
    case Op::kExecveat:  // recorded at the exec event (a successful exec does not return)
    case Op::kStatPath:  // a successful lookup is no probe
    case Op::kStatAt:
    case Op::kPtrace:
    case Op::kRootChange:
    case Op::kRefuse:
    case Op::kNone:
    case Op::kOpCount:
      return;
  }
}

size_t Decoder::ExecPath(pid_t tid, const PendingCall& call, char* out, size_t cap) {
  Text raw(scratch_->raw1, sizeof(scratch_->raw1));
  int dirfd = AT_FDCWD;
  uint64_t path = call.args[0];
  if (call.op == Op::kExecveat) {
    dirfd = static_cast<int32_t>(call.args[0]);
    path = call.args[1];
  }
  // The call may still fail, so an unreadable path is not yet a lost record: stay quiet.
  ssize_t n = ReadRemoteString(tid, path, scratch_->raw1, kPathCapacity);
  if (n < 0) return 0;
  raw.Resize(static_cast<size_t>(n));
  if (raw.view().empty()) return 0;  // execveat(fd, "", AT_EMPTY_PATH): /proc/PID/exe later
  Text resolved(out, cap);
  if (IsAbsolute(raw.view())) {
    resolved.Append(raw.view());
  } else {
    // FreeBSD resolves a relative program name to the image's full path.
    Text dir(scratch_->dir, sizeof(scratch_->dir));
    bool ok = dirfd == AT_FDCWD ? ReadProcLink(tid, "cwd", -1, &dir)
                                : ReadProcLink(tid, "fd/", dirfd, &dir);
    if (ok) {
      AppendJoined(dir.view(), raw.view(), &resolved);
    } else {
      absl::string_view p = raw.view();
      while (p.size() >= 2 && p[0] == '.' && p[1] == '/') p.remove_prefix(2);
      resolved.Append(p);
    }
  }
  return resolved.overflow() ? 0 : resolved.view().size();
}

void Decoder::OnExec(pid_t tgid, absl::string_view path) {
  Text exe(scratch_->out1, sizeof(scratch_->out1));
  if (path.empty()) {
    if (!ReadProcLink(tgid, "exe", -1, &exe)) exe.Append("<unknown>");
    path = exe.view();
  }
  sink_->Add(Record::Path(RecordKind::kExec, tgid, path));

  // Set-id programs: under ptrace the kernel runs them without their privilege unless the
  // tracer may trace the privileged process (root). Say so when it happened.
  Text p(scratch_->proc, sizeof(scratch_->proc));
  p.Append("/proc/").AppendInt(tgid).Append("/exe");
  struct stat st;
  if (stat(p.c_str(), &st) != 0 || (st.st_mode & (S_ISUID | S_ISGID)) == 0) return;
  p.Clear();
  p.Append("/proc/").AppendInt(tgid).Append("/status");
  int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[2048];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  long uid[2] = {-1, -1}, gid[2] = {-1, -1};
  if (const char* u = strstr(buf, "\nUid:")) sscanf(u + 5, "%ld %ld", &uid[0], &uid[1]);
  if (const char* g = strstr(buf, "\nGid:")) sscanf(g + 5, "%ld %ld", &gid[0], &gid[1]);
  bool lost_uid = (st.st_mode & S_ISUID) && uid[1] != static_cast<long>(st.st_uid);
  bool lost_gid = (st.st_mode & S_ISGID) && gid[1] != static_cast<long>(st.st_gid);
  if (!lost_uid && !lost_gid) return;
  Text c(scratch_->out2, sizeof(scratch_->out2));
  c.Append(path).Append(" is set-");
  c.Append(lost_uid ? "user" : "group").Append("-ID but runs without that privilege under ptrace");
  Comment(tgid, c.view());
}

}  // namespace ptrace_internal
}  // namespace filemon
