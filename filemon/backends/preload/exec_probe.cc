#include "filemon/backends/preload/exec_probe.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/core/shebang.h"

namespace filemon {
namespace preload_internal {
namespace {

#if defined(__x86_64__)
constexpr int kNativeMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kNativeMachine = EM_AARCH64;
#endif

// The kernel follows at most this many `#!` levels (BINPRM_MAX_RECURSION).
constexpr int kMaxScriptDepth = 4;

long ReadAt(int fd, void* buf, long size, long offset) {
  long n;
  do {
    n = RawSyscall4(SYS_pread64, fd, reinterpret_cast<long>(buf), size, offset);
  } while (n == -EINTR);
  return n;
}

void CopyName(const char* path, char* out, size_t size) {
  size_t n = std::strlen(path);
  if (n >= size) n = size - 1;
  std::memcpy(out, path, n);
  out[n] = '\0';
}

// The first bytes of the file, read at once: the ELF header, the program headers and the notes
// of an ordinary program all lie in its first 2 KiB, so one pread(2) usually answers everything.
struct Head {
  char bytes[2048];
  long size;  // bytes read
  // `want` bytes at `offset` copied to `out`, from the head or else read from `fd`.
  bool Get(int fd, void* out, long want, uint64_t offset) const {
    if (offset <= static_cast<uint64_t>(size) &&
        static_cast<uint64_t>(want) <= static_cast<uint64_t>(size) - offset) {
      std::memcpy(out, bytes + offset, static_cast<size_t>(want));
      return true;
    }
    return ReadAt(fd, out, want, static_cast<long>(offset)) == want;
  }
};

// True if the note segment at [offset, offset + size) holds a Go build ID note.
bool HasGoNote(int fd, const Head& head, uint64_t offset, uint64_t size) {
  char notes[512];
  if (size > sizeof(notes)) size = sizeof(notes);
  const long n = static_cast<long>(size);
  if (!head.Get(fd, notes, n, offset)) return false;
  size_t pos = 0;
  while (pos + sizeof(Elf64_Nhdr) <= static_cast<size_t>(n)) {
    Elf64_Nhdr note;
    std::memcpy(&note, notes + pos, sizeof(note));
    size_t name_at = pos + sizeof(note);
    if (note.n_namesz == 3 && name_at + 3 <= static_cast<size_t>(n) &&
        std::memcmp(notes + name_at, "Go", 3) == 0) {
      return true;
    }
    pos = name_at + ((note.n_namesz + 3) & ~3u) + ((note.n_descsz + 3) & ~3u);
  }
  return false;
}

ExecKind ProbeElf(int fd, const Head& head) {
  Elf64_Ehdr header;
  std::memcpy(&header, head.bytes, sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != kNativeMachine) {
    return ExecKind::kForeign;
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr)) return ExecKind::kUnknown;
  bool interp = false;
  bool go = false;
  // In batches: from the head when the table lies in it, else one pread(2) a batch.
  constexpr unsigned kBatch = 16;
  Elf64_Phdr phdrs[kBatch];
  for (unsigned first = 0; first < header.e_phnum; first += kBatch) {
    const unsigned count = header.e_phnum - first < kBatch ? header.e_phnum - first : kBatch;
    if (!head.Get(fd, phdrs, static_cast<long>(count * sizeof(Elf64_Phdr)),
                  header.e_phoff + first * sizeof(Elf64_Phdr))) {
      return ExecKind::kUnknown;
    }
    for (unsigned i = 0; i < count; ++i) {
      if (phdrs[i].p_type == PT_INTERP) interp = true;
      if (phdrs[i].p_type == PT_NOTE && HasGoNote(fd, head, phdrs[i].p_offset, phdrs[i].p_filesz)) {
        go = true;
      }
    }
  }
  if (!interp) return ExecKind::kStatic;
  return go ? ExecKind::kRawSyscalls : ExecKind::kPreloadable;
}

// One file: an ELF program is judged; of a `#!` script, `*script` is set and its interpreter
// copied to `interp`, to be judged next. `*absent`: the file does not exist.
ExecKind ProbeFile(const char* path, Head* head, char* interp, size_t interp_size, bool* script,
                   bool* absent) {
  *script = false;
  long fd =
      RawSyscall4(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC, 0);
  *absent = fd == -ENOENT || fd == -ENOTDIR;
  if (fd < 0) return ExecKind::kUnknown;
  struct stat st;
  ExecKind kind = ExecKind::kUnknown;
  long n = 0;
  if (RawSyscall2(SYS_fstat, fd, reinterpret_cast<long>(&st)) == 0 && S_ISREG(st.st_mode)) {
    n = ReadAt(static_cast<int>(fd), head->bytes, sizeof(head->bytes) - 1, 0);
    if (n < 0) n = 0;
  }
  head->size = n;
  head->bytes[n] = '\0';
  // Only a set-user-ID or set-group-ID file needs the credentials.
  bool secure = false;
  if (n > 0 && (st.st_mode & (S_ISUID | S_ISGID)) != 0) {
    secure = ((st.st_mode & S_ISUID) && static_cast<long>(st.st_uid) != RawSyscall0(SYS_geteuid)) ||
             ((st.st_mode & S_ISGID) && static_cast<long>(st.st_gid) != RawSyscall0(SYS_getegid));
  }
  if (n >= static_cast<long>(sizeof(Elf64_Ehdr)) &&
      std::memcmp(head->bytes, ELFMAG, SELFMAG) == 0) {
    kind = secure ? ExecKind::kSecure : ProbeElf(static_cast<int>(fd), *head);
  } else {
    const char* name;
    size_t length;
    // An empty name is not judged: whether its exec fails with ENOENT depends on the kernel.
    if (ShebangInterpreter(head->bytes, static_cast<size_t>(n), &name, &length) && length > 0 &&
        length < interp_size) {
      std::memcpy(interp, name, length);
      interp[length] = '\0';
      *script = true;
    }
  }
  RawSyscall1(SYS_close, fd);
  return kind;
}

}  // namespace

const char* ExecKindReason(ExecKind kind) {
  switch (kind) {
    case ExecKind::kPreloadable:
      return "dynamically linked";
    case ExecKind::kStatic:
      return "statically linked";
    case ExecKind::kForeign:
      return "of another ELF class or machine (e.g. 32-bit)";
    case ExecKind::kSecure:
      return "set-user-ID or set-group-ID (the loader drops LD_PRELOAD)";
    case ExecKind::kRawSyscalls:
      return "a Go program (it makes its own system calls)";
    case ExecKind::kUnknown:
      break;
  }
  return "not a readable program";
}

const char* ExecKindLoss(ExecKind kind) {
  if (kind == ExecKind::kSecure) {
    return "neither its own operations nor those of any program it starts are recorded (the "
           "loader drops LD_PRELOAD for its whole subtree; --backend=ptrace records them but runs "
           "it without its privilege)";
  }
  return "the interposer cannot record its own operations (use --backend=ptrace or auto)";
}

ExecProbe ProbeExecutable(const char* path) {
  ExecProbe probe;
  Head head;
  char interp[2][sizeof(probe.judged)];
  const char* file = path;
  for (int depth = 0;; ++depth) {
    bool script = false;
    char* next = interp[depth % 2];  // not the buffer `file` points into
    probe.kind = ProbeFile(file, &head, next, sizeof(interp[0]), &script, &probe.absent);
    // Named only once the kernel could read the path (it opened the file, or found it absent):
    // a path it refused (EFAULT) fails the exec itself, as untraced, where reading it here
    // would crash the program.
    if (probe.kind == ExecKind::kUnknown && !script && !probe.absent) break;
    CopyName(file, probe.judged, sizeof(probe.judged));
    if (!script) break;
    if (depth >= kMaxScriptDepth) {  // the kernel refuses deeper nesting
      probe.kind = ExecKind::kUnknown;
      break;
    }
    file = next;
  }
  return probe;
}

}  // namespace preload_internal
}  // namespace filemon
