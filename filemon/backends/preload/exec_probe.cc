#include "filemon/backends/preload/exec_probe.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "filemon/backends/preload/raw_syscall.h"

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

// True if the note segment at [offset, offset + size) holds a Go build ID note.
bool HasGoNote(int fd, uint64_t offset, uint64_t size) {
  char notes[512];
  if (size > sizeof(notes)) size = sizeof(notes);
  long n = ReadAt(fd, notes, static_cast<long>(size), static_cast<long>(offset));
  size_t pos = 0;
  while (n > 0 && pos + sizeof(Elf64_Nhdr) <= static_cast<size_t>(n)) {
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

ExecKind ProbeElf(int fd, const Elf64_Ehdr& header) {
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != kNativeMachine) {
    return ExecKind::kForeign;
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr)) return ExecKind::kUnknown;
  Elf64_Phdr phdrs[32];
  bool interp = false;
  bool go = false;
  for (unsigned first = 0; first < header.e_phnum; first += 32) {
    unsigned count = header.e_phnum - first;
    if (count > 32) count = 32;
    long want = static_cast<long>(count * sizeof(Elf64_Phdr));
    if (ReadAt(fd, phdrs, want, header.e_phoff + first * sizeof(Elf64_Phdr)) != want) {
      return ExecKind::kUnknown;
    }
    for (unsigned i = 0; i < count; ++i) {
      if (phdrs[i].p_type == PT_INTERP) interp = true;
      if (phdrs[i].p_type == PT_NOTE && HasGoNote(fd, phdrs[i].p_offset, phdrs[i].p_filesz)) {
        go = true;
      }
    }
  }
  if (!interp) return ExecKind::kStatic;
  return go ? ExecKind::kRawSyscalls : ExecKind::kPreloadable;
}

ExecKind Probe(const char* path, int depth, ExecProbe* probe) {
  CopyName(path, probe->judged, sizeof(probe->judged));
  long fd =
      RawSyscall4(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return ExecKind::kUnknown;
  struct stat st;
  ExecKind kind = ExecKind::kUnknown;
  union {
    Elf64_Ehdr elf;
    char text[256];
  } head;
  std::memset(&head, 0, sizeof(head));
  long n = 0;
  if (RawSyscall2(SYS_fstat, fd, reinterpret_cast<long>(&st)) == 0 && S_ISREG(st.st_mode)) {
    n = ReadAt(static_cast<int>(fd), &head, sizeof(head) - 1, 0);
  }
  bool secure = false;
  if (n > 0) {
    long euid = RawSyscall0(SYS_geteuid);
    long egid = RawSyscall0(SYS_getegid);
    secure = ((st.st_mode & S_ISUID) && static_cast<long>(st.st_uid) != euid) ||
             ((st.st_mode & S_ISGID) && static_cast<long>(st.st_gid) != egid);
  }
  if (n >= static_cast<long>(sizeof(Elf64_Ehdr)) && std::memcmp(head.text, ELFMAG, SELFMAG) == 0) {
    kind = secure ? ExecKind::kSecure : ProbeElf(static_cast<int>(fd), head.elf);
  } else if (n > 2 && head.text[0] == '#' && head.text[1] == '!' && depth < kMaxScriptDepth) {
    // "#! /interp arg": the interpreter is the first word after "#!".
    char* p = head.text + 2;
    while (*p == ' ' || *p == '\t') ++p;
    char* end = p;
    while (*end != '\0' && *end != ' ' && *end != '\t' && *end != '\n') ++end;
    if (end > p && *end != '\0') {
      *end = '\0';
      RawSyscall1(SYS_close, fd);
      return Probe(p, depth + 1, probe);
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

ExecProbe ProbeExecutable(const char* path) {
  ExecProbe probe;
  probe.kind = Probe(path, 0, &probe);
  return probe;
}

}  // namespace preload_internal
}  // namespace filemon
