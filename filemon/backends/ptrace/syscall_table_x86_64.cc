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
// statx (dirfd, path, flags, mask, buf).
constexpr uint32_t kAtEmptyPath = 0x1000;

constexpr SyscallEntry kX86_64Probes[] = {
    {4, Op::kStatPath},
    {6, Op::kStatPath},
    {21, Op::kStatPath},
    {89, Op::kStatPath},
    {262, Op::kStatAt, kAtEmptyPath, 3},
    {332, Op::kStatAt, kAtEmptyPath, 2},
    {269, Op::kStatAt},
    {439, Op::kStatAt},
    {267, Op::kStatAt},
};

constexpr SyscallEntry kI386Probes[] = {
    {106, Op::kStatPath},
    {107, Op::kStatPath},
    {195, Op::kStatPath},
    {196, Op::kStatPath},
    {33, Op::kStatPath},
    {85, Op::kStatPath},
    {300, Op::kStatAt, kAtEmptyPath, 3},
    {383, Op::kStatAt, kAtEmptyPath, 2},
    {307, Op::kStatAt},
    {439, Op::kStatAt},
    {305, Op::kStatAt},
};

// __X32_SYSCALL_BIT: x32 calls arrive with AUDIT_ARCH_X86_64 and this bit in the number.
constexpr uint32_t kX32SyscallBit = 0x40000000;

constexpr AbiTable kHostAbis[] = {
    {Abi::kX86_64, AUDIT_ARCH_X86_64, kX32SyscallBit, absl::MakeConstSpan(kX86_64),
     absl::MakeConstSpan(kX86_64Probes)},
    {Abi::kI386, AUDIT_ARCH_I386, 0, absl::MakeConstSpan(kI386), absl::MakeConstSpan(kI386Probes)},
};

}  // namespace

absl::Span<const AbiTable> HostAbis() { return absl::MakeConstSpan(kHostAbis); }

}  // namespace ptrace_internal
}  // namespace filemon
