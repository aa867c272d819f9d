// File: filemon/backends/ptrace/child_setup.h
//
// What a traced child does between fork() and exec, and the seccomp filter it installs. The
// handshake with the tracer is two pipes: the child writes its pid on `ready_fd`, the tracer
// PTRACE_SEIZEs it and writes one byte on `go_fd`; only then does the child install the filter
// (a SECCOMP_RET_TRACE filter without a tracer would fail the traced calls with ENOSYS).
//
// Everything the child needs is prepared in the parent (`ChildSetup` holds the BPF program), so
// that `PrepareTracedChild` is async-signal-safe and allocates nothing.
//
// Example:
//   ChildSetup setup;
//   BuildSeccompFilter(&setup);  // in the parent
//   ... fork(); in the child: if (int e = PrepareTracedChild(setup)) _exit(126);
//   execve(...);

#ifndef FILEMON_BACKENDS_PTRACE_CHILD_SETUP_H_
#define FILEMON_BACKENDS_PTRACE_CHILD_SETUP_H_

#include <linux/filter.h>
#include <sys/types.h>

#include <cstddef>

#include "absl/status/status.h"

namespace filemon {
namespace ptrace_internal {

inline constexpr size_t kMaxFilterLength = 256;

struct ChildSetup {
  sock_filter filter[kMaxFilterLength];
  unsigned short filter_length = 0;
  int ready_fd = -1;     // child → tracer: the child's pid (a pid_t)
  int go_fd = -1;        // tracer → child: one byte 'g' once the child is seized
  pid_t tracer_pid = 0;  // named with PR_SET_PTRACER for Yama
};

struct FilterOptions {
  // Also stop on the stat family (`AbiTable::probe_entries`), whose failures are probes, and on
  // the calls that change how paths resolve (`AbiTable::root_entries`).
  bool probes = false;
};

// Fills `setup->filter` from the host's syscall tables (syscall_table.h): the traced calls
// return SECCOMP_RET_TRACE tagged with `SeccompData`, every other call is allowed.
absl::Status BuildSeccompFilter(ChildSetup* setup, const FilterOptions& options);

// In the child after fork(): names the tracer for Yama, makes itself dumpable (attachable),
// hands its pid to the tracer, blocks
// until seized, then installs the filter (setting no_new_privs first unless the process may
// install a filter without it). Async-signal-safe. Returns 0 or an errno value.
int PrepareTracedChild(const ChildSetup& setup);

// The PTRACE_SEIZE options the tracer uses for every tracee.
long TraceOptionsMask();

}  // namespace ptrace_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_PTRACE_CHILD_SETUP_H_
