#include "filemon/backends/ptrace/syscall_table.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include <initializer_list>
#include <set>
#include <vector>

#include "filemon/backends/ptrace/child_setup.h"
#include "gtest/gtest.h"

namespace filemon {
namespace ptrace_internal {
namespace {

// Runs the classic-BPF program the way the kernel would, for one (arch, nr, args).
uint32_t RunFilter(const ChildSetup& setup, uint32_t arch, uint32_t nr,
                   std::initializer_list<uint64_t> args = {}) {
  seccomp_data data = {};
  data.arch = arch;
  data.nr = static_cast<int>(nr);
  int i = 0;
  for (uint64_t v : args) data.args[i++] = v;
  uint32_t a = 0;
  for (size_t pc = 0; pc < setup.filter_length;) {
    const sock_filter& f = setup.filter[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k == offsetof(seccomp_data, arch)) {
          a = data.arch;
        } else if (f.k == offsetof(seccomp_data, nr)) {
          a = static_cast<uint32_t>(data.nr);
        } else {  // an argument's low word
          a = static_cast<uint32_t>(data.args[(f.k - offsetof(seccomp_data, args)) / 8]);
        }
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
    // Every op but kNone, kRefuse, the two probe ops and kRootChange.
    EXPECT_EQ(ops.size(), static_cast<size_t>(Op::kRefuse) - 4);
    for (const SyscallEntry& e : abi.probe_entries) {
      EXPECT_TRUE(e.op == Op::kStatPath || e.op == Op::kStatAt) << OpName(e.op);
      EXPECT_TRUE(numbers.insert(e.nr).second) << e.nr;
      EXPECT_EQ(FindProbeEntry(abi.abi, e.nr), &e);
    }
    for (const SyscallEntry& e : abi.root_entries) {
      EXPECT_EQ(e.op, Op::kRootChange);
      EXPECT_TRUE(numbers.insert(e.nr).second) << e.nr;
    }
    EXPECT_EQ(FindProbeEntry(abi.abi, abi.entries[0].nr), nullptr);
  }
}

TEST(SeccompFilter, TagsTracedCallsWithAbiAndOpAndAllowsTheRest) {
  ChildSetup setup;
  ASSERT_TRUE(BuildSeccompFilter(&setup, {}).ok());
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

TEST(SeccompFilter, TheStatFamilyStopsOnlyWithProbes) {
  ChildSetup plain, probes;
  ASSERT_TRUE(BuildSeccompFilter(&plain, {}).ok());
  ASSERT_TRUE(BuildSeccompFilter(&probes, FilterOptions{true}).ok());
  for (const AbiTable& abi : HostAbis()) {
    SCOPED_TRACE(std::string(AbiName(abi.abi)));
    ASSERT_FALSE(abi.probe_entries.empty());
    std::vector<SyscallEntry> probe_only(abi.probe_entries.begin(), abi.probe_entries.end());
    probe_only.insert(probe_only.end(), abi.root_entries.begin(), abi.root_entries.end());
    for (const SyscallEntry& e : probe_only) {
      EXPECT_EQ(RunFilter(plain, abi.audit_arch, e.nr), SECCOMP_RET_ALLOW) << e.nr;
      const uint32_t ret = RunFilter(probes, abi.audit_arch, e.nr);
      EXPECT_EQ(ret & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_TRACE) << e.nr;
      EXPECT_EQ(OpOfSeccompData(ret & SECCOMP_RET_DATA), e.op);
      EXPECT_EQ(AbiOfSeccompData(ret & SECCOMP_RET_DATA), abi.abi);
    }
    // The other traced calls are tagged as before.
    for (const SyscallEntry& e : abi.entries) {
      EXPECT_EQ(OpOfSeccompData(RunFilter(probes, abi.audit_arch, e.nr) & SECCOMP_RET_DATA), e.op);
    }
  }
#if defined(__x86_64__)
  // fstat through newfstatat(fd, "", buf, AT_EMPTY_PATH) and statx(fd, "", AT_EMPTY_PATH) name
  // no path: no stop.
  EXPECT_EQ(RunFilter(probes, AUDIT_ARCH_X86_64, 262, {3, 0, 0, 0x1000}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunFilter(probes, AUDIT_ARCH_X86_64, 332, {3, 0, 0x1000, 0, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(OpOfSeccompData(RunFilter(probes, AUDIT_ARCH_X86_64, 262, {3, 0, 0, 0x100})),
            Op::kStatAt);  // AT_SYMLINK_NOFOLLOW: a lookup
  EXPECT_EQ(OpOfSeccompData(RunFilter(probes, AUDIT_ARCH_X86_64, 4)), Op::kStatPath);
#endif
}

}  // namespace
}  // namespace ptrace_internal
}  // namespace filemon
