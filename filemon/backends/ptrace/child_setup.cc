#include "filemon/backends/ptrace/child_setup.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "filemon/backends/ptrace/syscall_table.h"

namespace filemon {
namespace ptrace_internal {
namespace {

constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);

class FilterBuilder {
 public:
  explicit FilterBuilder(ChildSetup* setup) : setup_(setup) {}
  bool Add(unsigned short code, unsigned char jt, unsigned char jf, uint32_t k) {
    if (setup_->filter_length >= kMaxFilterLength) return false;
    setup_->filter[setup_->filter_length++] = sock_filter{code, jt, jf, k};
    return true;
  }
  bool Return(uint32_t value) { return Add(BPF_RET | BPF_K, 0, 0, value); }

 private:
  ChildSetup* setup_;
};

// The instructions one entry takes: jeq nr; ret trace (plus, with skip bits: ld arg; jset; ret
// allow).
size_t EntryLength(const SyscallEntry& e) { return e.skip_bits != 0 ? 5 : 2; }

bool AddEntry(const AbiTable& abi, const SyscallEntry& e, FilterBuilder* b) {
  const uint32_t trace = SECCOMP_RET_TRACE | SeccompData(abi.abi, e.op);
  if (e.skip_bits == 0) {
    return b->Add(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, e.nr) && b->Return(trace);
  }
  // The argument's low 32 bits (little-endian hosts: the word at the argument's offset).
  const uint32_t arg = static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * e.skip_arg);
  return b->Add(BPF_JMP | BPF_JEQ | BPF_K, 0, 4, e.nr) &&
         b->Add(BPF_LD | BPF_W | BPF_ABS, 0, 0, arg) &&
         b->Add(BPF_JMP | BPF_JSET | BPF_K, 0, 1, e.skip_bits) && b->Return(SECCOMP_RET_ALLOW) &&
         b->Return(trace);
}

}  // namespace

absl::Status BuildSeccompFilter(ChildSetup* setup, const FilterOptions& options) {
  setup->filter_length = 0;
  FilterBuilder b(setup);
  bool ok = true;
  for (const AbiTable& abi : HostAbis()) {
    absl::Span<const SyscallEntry> probes =
        options.probes ? abi.probe_entries : absl::Span<const SyscallEntry>();
    absl::Span<const SyscallEntry> roots =
        options.probes ? abi.root_entries : absl::Span<const SyscallEntry>();
    // Block: ld arch; jeq arch ? next : skip block; ld nr; [x32 check]; entries; ret allow.
    size_t rest = 1 + (abi.refused_nr_bit != 0 ? 2 : 0) + 1;
    for (const SyscallEntry& e : abi.entries) rest += EntryLength(e);
    for (const SyscallEntry& e : probes) rest += EntryLength(e);
    for (const SyscallEntry& e : roots) rest += EntryLength(e);
    if (rest > 255) return absl::InternalError("seccomp filter: syscall table too long");
    ok &= b.Add(BPF_LD | BPF_W | BPF_ABS, 0, 0, kArchOffset);
    ok &= b.Add(BPF_JMP | BPF_JEQ | BPF_K, 0, static_cast<unsigned char>(rest), abi.audit_arch);
    ok &= b.Add(BPF_LD | BPF_W | BPF_ABS, 0, 0, kNrOffset);
    if (abi.refused_nr_bit != 0) {
      ok &= b.Add(BPF_JMP | BPF_JSET | BPF_K, 0, 1, abi.refused_nr_bit);
      ok &= b.Return(SECCOMP_RET_TRACE | SeccompData(Abi::kX32, Op::kRefuse));
    }
    for (const SyscallEntry& e : abi.entries) ok &= AddEntry(abi, e, &b);
    for (const SyscallEntry& e : probes) ok &= AddEntry(abi, e, &b);
    for (const SyscallEntry& e : roots) ok &= AddEntry(abi, e, &b);
    ok &= b.Return(SECCOMP_RET_ALLOW);
  }
  // An ABI the tables do not know: refuse rather than misread.
  ok &= b.Return(SECCOMP_RET_TRACE | SeccompData(Abi::kUnknown, Op::kRefuse));
  if (!ok) return absl::InternalError("seccomp filter: more than kMaxFilterLength instructions");
  if (HostAbis().empty()) {
    return absl::UnimplementedError("the ptrace backend has no syscall table for this CPU");
  }
  return absl::OkStatus();
}

int PrepareTracedChild(const ChildSetup& setup) {
  // Without Yama (or with ptrace_scope 0) this fails with EINVAL, which is harmless.
  prctl(PR_SET_PTRACER, setup.tracer_pid, 0, 0, 0);
  // A caller that changed its credentials (e.g. dropped root) is not dumpable, and nobody
  // without CAP_SYS_PTRACE may attach to it; exec recomputes this flag anyway.
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
  ssize_t n;
  do {
    n = write(setup.ready_fd, &self, sizeof(self));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(self))) return n < 0 ? errno : EPIPE;
  char go = 0;
  do {
    n = read(setup.go_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  if (n == 0 || go != 'g') return ECHILD;  // the tracer went away or could not attach
  close(setup.ready_fd);
  close(setup.go_fd);

  sock_fprog prog;
  prog.len = setup.filter_length;
  prog.filter = const_cast<sock_filter*>(setup.filter);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    // Unprivileged processes need no_new_privs; privileged ones keep set-id semantics.
    if (errno != EACCES) return errno;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  }
  return 0;
}

long TraceOptionsMask() {
  return PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
         PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
}

}  // namespace ptrace_internal
}  // namespace filemon
