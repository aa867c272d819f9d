// File: filemon/backends/ptrace/syscall_table.h
//
// Which system calls the ptrace backend stops on, per architecture. The seccomp filter is built
// from these tables and tags each traced call with `SeccompData(abi, op)`; the tracer reads the
// tag back at the seccomp stop, so it never decodes a syscall number itself and an i386 call
// made by a 64-bit kernel (a 32-bit program, or `int $0x80`) is never read with the 64-bit
// numbers.
//
// Adding an architecture: a `syscall_table_<arch>.cc` that defines `HostAbis()` for that host
// (its native ABI first, then any compat ABIs), selected in BUILD.bazel. The decoder is
// architecture-neutral: arguments come from PTRACE_GET_SYSCALL_INFO, not from registers.
//
// Example:
//   for (const filemon::ptrace_internal::AbiTable& abi : filemon::ptrace_internal::HostAbis()) {
//     for (const SyscallEntry& e : abi.entries) { ... e.nr, e.op ... }
//   }

#ifndef FILEMON_BACKENDS_PTRACE_SYSCALL_TABLE_H_
#define FILEMON_BACKENDS_PTRACE_SYSCALL_TABLE_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace filemon {
namespace ptrace_internal {

// The traced operations; the decoder maps each to records. Argument order is the generic Linux
// one (the same for every ABI).
enum class Op : uint8_t {
  kNone = 0,
  kOpen,       // open(path, flags, mode)
  kOpenat,     // openat(dirfd, path, flags, mode)
  kOpenat2,    // openat2(dirfd, path, struct open_how*, size)
  kCreat,      // creat(path, mode)
  kChdir,      // chdir(path)
  kFchdir,     // fchdir(fd)
  kRename,     // rename(old, new)
  kRenameat,   // renameat(olddirfd, old, newdirfd, new)
  kRenameat2,  // renameat2(olddirfd, old, newdirfd, new, flags)
  kLink,       // link(old, new)
  kLinkat,     // linkat(olddirfd, old, newdirfd, new, flags)
  kSymlink,    // symlink(target, linkpath)
  kSymlinkat,  // symlinkat(target, newdirfd, linkpath)
  kUnlink,     // unlink(path)
  kUnlinkat,   // unlinkat(dirfd, path, flags)
  kRmdir,      // rmdir(path)
  kExecve,     // execve(path, argv, envp)
  kExecveat,   // execveat(dirfd, path, argv, envp, flags)
  kPtrace,     // ptrace(request, pid, addr, data): logged as a comment when it fails
  // The stat family, traced only with `TraceOptions::probes` (their failures become `N`):
  kStatPath,  // stat, lstat, stat64, lstat64, access, readlink: (path, ...)
  kStatAt,    // newfstatat, fstatat64, statx, faccessat, faccessat2, readlinkat: (dirfd, path, ...)
  // chroot, pivot_root, unshare, setns: traced only with probes, since they may change how the
  // tracee resolves paths (see `AbiTable::root_entries`).
  kRootChange,
  kRefuse,  // a syscall of an ABI this build cannot decode (x32): the process is killed
  kOpCount,
};

absl::string_view OpName(Op op);

// The ABIs a host can run; the value is part of the seccomp data tag.
enum class Abi : uint8_t {
  kX86_64 = 0,
  kI386 = 1,  // 32-bit programs and `int $0x80` on an x86-64 kernel
  kX32 = 2,   // refused (kRefuse)
  kAarch64 = 3,
  kUnknown = 15,
};

absl::string_view AbiName(Abi abi);

// Whether a lookup follows a symbolic link in the last component of its path.
enum class FinalLink : uint8_t { kFollow, kNoFollow };

struct SyscallEntry {
  static constexpr uint8_t kNoFlagsArg = 0xff;

  uint32_t nr;
  Op op;
  // When not 0: the call is allowed without a stop if argument `skip_arg` has any of these bits
  // (AT_EMPTY_PATH: fstat through newfstatat/statx names no path, so it cannot be a probe).
  uint32_t skip_bits = 0;
  uint8_t skip_arg = 0;
  // The stat family: how the call treats a symbolic link at the end of its path, unless argument
  // `flags_arg` (kNoFlagsArg: none) holds AT_SYMLINK_NOFOLLOW.
  uint8_t flags_arg = kNoFlagsArg;
  FinalLink final_link = FinalLink::kFollow;
};

struct AbiTable {
  Abi abi;
  uint32_t audit_arch;  // AUDIT_ARCH_* as seccomp_data.arch reports it
  // Syscall numbers with this bit set are another ABI sharing `audit_arch` (x86-64's x32):
  // refused. 0 if none.
  uint32_t refused_nr_bit;
  absl::Span<const SyscallEntry> entries;
  // The stat family: in the filter only when probes are recorded.
  absl::Span<const SyscallEntry> probe_entries;
  // Calls that change the tracee's root directory or mount namespace (kRootChange): in the filter
  // only when probes are recorded, so that the tracer knows when its own lookups stop matching
  // the tracee's.
  absl::Span<const SyscallEntry> root_entries;
};

// The ABIs of the host this binary was built for (native first). Empty on an unsupported host.
absl::Span<const AbiTable> HostAbis();

// The entry of `probe_entries` of ABI `abi` with number `nr`, or null.
const SyscallEntry* FindProbeEntry(Abi abi, uint32_t nr);

// The 16-bit SECCOMP_RET_DATA tag: the ABI in the high byte, the operation in the low byte.
constexpr uint16_t SeccompData(Abi abi, Op op) {
  return static_cast<uint16_t>((static_cast<uint16_t>(abi) << 8) | static_cast<uint16_t>(op));
}
inline Op OpOfSeccompData(uint32_t data) {
  uint32_t op = data & 0xff;
  return op < static_cast<uint32_t>(Op::kOpCount) ? static_cast<Op>(op) : Op::kNone;
}
inline Abi AbiOfSeccompData(uint32_t data) { return static_cast<Abi>((data >> 8) & 0xff); }

}  // namespace ptrace_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_SYSCALL_TABLE_H_
