// The x86-64 host: the native 64-bit ABI and the i386 compat ABI. Numbers from the kernel's
// arch/x86/entry/syscalls/syscall_{64,32}.tbl (asm/unistd_{64,32}.h); they are spelled out
// rather than taken from <asm/unistd_32.h> so that the table does not depend on which headers
// the build machine has.

#include <linux/audit.h>

#include "absl/types/span.h"
#include "filemon/backends/ptrace/syscall_table.h"

namespace filemon {
namespace ptrace_internal {
namespace {

constexpr SyscallEntry kX86_64[] = {
    {2, Op::kOpen},        {257, Op::kOpenat},   {437, Op::kOpenat2},  {85, Op::kCreat},
    {80, Op::kChdir},      {81, Op::kFchdir},    {82, Op::kRename},    {264, Op::kRenameat},
    {316, Op::kRenameat2}, {86, Op::kLink},      {265, Op::kLinkat},   {88, Op::kSymlink},
    {266, Op::kSymlinkat}, {87, Op::kUnlink},    {263, Op::kUnlinkat}, {84, Op::kRmdir},
    {59, Op::kExecve},     {322, Op::kExecveat}, {101, Op::kPtrace},
};

constexpr SyscallEntry kI386[] = {
    {5, Op::kOpen},        {295, Op::kOpenat},   {437, Op::kOpenat2},  {8, Op::kCreat},
    {12, Op::kChdir},      {133, Op::kFchdir},   {38, Op::kRename},    {302, Op::kRenameat},
    {353, Op::kRenameat2}, {9, Op::kLink},       {303, Op::kLinkat},   {83, Op::kSymlink},
    {304, Op::kSymlinkat}, {10, Op::kUnlink},    {301, Op::kUnlinkat}, {40, Op::kRmdir},
    {11, Op::kExecve},     {358, Op::kExecveat}, {26, Op::kPtrace},
};

// AT_EMPTY_PATH, and where the flags are: newfstatat/fstatat64 (dirfd, path, buf, flags),
// statx (dirfd, path, flags, mask, buf), faccessat2 (dirfd, path, mode, flags); faccessat has
// no flags and follows links; lstat, readlink and readlinkat never follow a final link.
constexpr uint32_t kAtEmptyPath = 0x1000;
constexpr FinalLink kNoFollow = FinalLink::kNoFollow;
constexpr FinalLink kFollow = FinalLink::kFollow;
constexpr uint8_t kNoFlags = SyscallEntry::kNoFlagsArg;

constexpr SyscallEntry kX86_64Probes[] = {
    {4, Op::kStatPath},                               // stat
    {6, Op::kStatPath, 0, 0, kNoFlags, kNoFollow},    // lstat
    {21, Op::kStatPath},                              // access
    {89, Op::kStatPath, 0, 0, kNoFlags, kNoFollow},   // readlink
    {262, Op::kStatAt, kAtEmptyPath, 3, 3, kFollow},  // newfstatat
    {332, Op::kStatAt, kAtEmptyPath, 2, 2, kFollow},  // statx
    {269, Op::kStatAt},                               // faccessat
    {439, Op::kStatAt, 0, 0, 3, kFollow},             // faccessat2
    {267, Op::kStatAt, 0, 0, kNoFlags, kNoFollow},    // readlinkat
};

constexpr SyscallEntry kI386Probes[] = {
    {106, Op::kStatPath},                             // stat
    {107, Op::kStatPath, 0, 0, kNoFlags, kNoFollow},  // lstat
    {195, Op::kStatPath},                             // stat64
    {196, Op::kStatPath, 0, 0, kNoFlags, kNoFollow},  // lstat64
    {33, Op::kStatPath},                              // access
    {85, Op::kStatPath, 0, 0, kNoFlags, kNoFollow},   // readlink
    {300, Op::kStatAt, kAtEmptyPath, 3, 3, kFollow},  // fstatat64
    {383, Op::kStatAt, kAtEmptyPath, 2, 2, kFollow},  // statx
    {307, Op::kStatAt},                               // faccessat
    {439, Op::kStatAt, 0, 0, 3, kFollow},             // faccessat2
    {305, Op::kStatAt, 0, 0, kNoFlags, kNoFollow},    // readlinkat
};

// chroot, pivot_root, unshare, setns.
constexpr SyscallEntry kX86_64Roots[] = {
    {161, Op::kRootChange},
    {155, Op::kRootChange},
    {272, Op::kRootChange},
    {308, Op::kRootChange},
};
constexpr SyscallEntry kI386Roots[] = {
    {61, Op::kRootChange},
    {217, Op::kRootChange},
    {310, Op::kRootChange},
    {346, Op::kRootChange},
};

// __X32_SYSCALL_BIT: x32 calls arrive with AUDIT_ARCH_X86_64 and this bit in the number.
constexpr uint32_t kX32SyscallBit = 0x40000000;

constexpr AbiTable kHostAbis[] = {
    {Abi::kX86_64, AUDIT_ARCH_X86_64, kX32SyscallBit, absl::MakeConstSpan(kX86_64),
     absl::MakeConstSpan(kX86_64Probes), absl::MakeConstSpan(kX86_64Roots)},
    {Abi::kI386, AUDIT_ARCH_I386, 0, absl::MakeConstSpan(kI386), absl::MakeConstSpan(kI386Probes),
     absl::MakeConstSpan(kI386Roots)},
};

}  // namespace

absl::Span<const AbiTable> HostAbis() { return absl::MakeConstSpan(kHostAbis); }

}  // namespace ptrace_internal
}  // namespace filemon
