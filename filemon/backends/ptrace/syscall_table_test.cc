#include "filemon/backends/ptrace/syscall_table.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include <set>

#include "filemon/backends/ptrace/child_setup.h"
#include "gtest/gtest.h"

namespace filemon {
namespace ptrace_internal {
namespace {

// Runs the classic-BPF program the way the kernel would, for one (arch, nr).
uint32_t RunFilter(const ChildSetup& setup, uint32_t arch, uint32_t nr) {
  seccomp_data data = {};
  data.arch = arch;
  data.nr = static_cast<int>(nr);
  uint32_t a = 0;
  for (size_t pc = 0; pc < setup.filter_length;) {
    const sock_filter& f = setup.filter[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        a = f.k == offsetof(seccomp_data, arch) ? data.arch : static_cast<uint32_t>(data.nr);
        ++pc;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += 1 + (a == f.k ? f.jt : f.jf);
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += 1 + ((a & f.k) != 0 ? f.jt : f.jf);
        break;
      case BPF_RET | BPF_K:
        return f.k;
      default:
        ADD_FAILURE() << "unexpected BPF instruction " << f.code;
        return 0;
    }
  }
  ADD_FAILURE() << "the filter fell off its end";
  return 0;
}

TEST(SyscallTable, EveryOpOnceAndNumbersDistinctPerAbi) {
  ASSERT_FALSE(HostAbis().empty());
  for (const AbiTable& abi : HostAbis()) {
    SCOPED_TRACE(std::string(AbiName(abi.abi)));
    std::set<Op> ops;
    std::set<uint32_t> numbers;
    for (const SyscallEntry& e : abi.entries) {
      EXPECT_TRUE(ops.insert(e.op).second) << OpName(e.op);
      EXPECT_TRUE(numbers.insert(e.nr).second) << e.nr;
    }
    EXPECT_EQ(ops.size(), static_cast<size_t>(Op::kRefuse) - 1);  // every op but kNone, kRefuse
  }
}

TEST(SeccompFilter, TagsTracedCallsWithAbiAndOpAndAllowsTheRest) {
  ChildSetup setup;
  ASSERT_TRUE(BuildSeccompFilter(&setup).ok());
  for (const AbiTable& abi : HostAbis()) {
    SCOPED_TRACE(std::string(AbiName(abi.abi)));
    for (const SyscallEntry& e : abi.entries) {
      uint32_t ret = RunFilter(setup, abi.audit_arch, e.nr);
      EXPECT_EQ(ret & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_TRACE) << OpName(e.op);
      EXPECT_EQ(OpOfSeccompData(ret & SECCOMP_RET_DATA), e.op);
      EXPECT_EQ(AbiOfSeccompData(ret & SECCOMP_RET_DATA), abi.abi);
    }
  }
#if defined(__x86_64__)
  // read(2) is 0 on x86-64 and 3 on i386: allowed on both, never stopped.
  EXPECT_EQ(RunFilter(setup, AUDIT_ARCH_X86_64, 0), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunFilter(setup, AUDIT_ARCH_I386, 3), SECCOMP_RET_ALLOW);
  // i386 open is 5, which is fstat on x86-64: the ABI decides, not the number.
  EXPECT_EQ(OpOfSeccompData(RunFilter(setup, AUDIT_ARCH_I386, 5)), Op::kOpen);
  EXPECT_EQ(RunFilter(setup, AUDIT_ARCH_X86_64, 5), SECCOMP_RET_ALLOW);
  // x32 calls and unknown architectures are refused, not misread.
  uint32_t x32 = RunFilter(setup, AUDIT_ARCH_X86_64, 0x40000000 | 2);
  EXPECT_EQ(OpOfSeccompData(x32 & SECCOMP_RET_DATA), Op::kRefuse);
  EXPECT_EQ(AbiOfSeccompData(x32 & SECCOMP_RET_DATA), Abi::kX32);
  EXPECT_EQ(OpOfSeccompData(RunFilter(setup, AUDIT_ARCH_AARCH64, 56) & SECCOMP_RET_DATA),
            Op::kRefuse);
#endif
}

}  // namespace
}  // namespace ptrace_internal
}  // namespace filemon
