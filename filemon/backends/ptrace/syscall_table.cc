#include "filemon/backends/ptrace/syscall_table.h"

namespace filemon {
namespace ptrace_internal {

absl::string_view OpName(Op op) {
  switch (op) {
    case Op::kNone:
      return "none";
    case Op::kOpen:
      return "open";
    case Op::kOpenat:
      return "openat";
    case Op::kOpenat2:
      return "openat2";
    case Op::kCreat:
      return "creat";
    case Op::kChdir:
      return "chdir";
    case Op::kFchdir:
      return "fchdir";
    case Op::kRename:
      return "rename";
    case Op::kRenameat:
      return "renameat";
    case Op::kRenameat2:
      return "renameat2";
    case Op::kLink:
      return "link";
    case Op::kLinkat:
      return "linkat";
    case Op::kSymlink:
      return "symlink";
    case Op::kSymlinkat:
      return "symlinkat";
    case Op::kUnlink:
      return "unlink";
    case Op::kUnlinkat:
      return "unlinkat";
    case Op::kRmdir:
      return "rmdir";
    case Op::kExecve:
      return "execve";
    case Op::kExecveat:
      return "execveat";
    case Op::kPtrace:
      return "ptrace";
    case Op::kStatPath:
      return "stat";
    case Op::kStatAt:
      return "fstatat";
    case Op::kRootChange:
      return "chroot";
    case Op::kRefuse:
      return "refused";
    case Op::kOpCount:
      break;
  }
  return "?";
}

const SyscallEntry* FindProbeEntry(Abi abi, uint32_t nr) {
  for (const AbiTable& table : HostAbis()) {
    if (table.abi != abi) continue;
    for (const SyscallEntry& e : table.probe_entries) {
      if (e.nr == nr) return &e;
    }
  }
  return nullptr;
}

absl::string_view AbiName(Abi abi) {
  switch (abi) {
    case Abi::kX86_64:
      return "x86-64";
    case Abi::kI386:
      return "i386";
    case Abi::kX32:
      return "x32";
    case Abi::kAarch64:
      return "aarch64";
    case Abi::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace ptrace_internal
}  // namespace filemon
