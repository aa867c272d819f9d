// File: filemon/backends/ebpf/loader.h
//
// The BPF program of one run or session (filemon.bpf.c through its libbpf skeleton): loaded,
// given its system call plans, attached, its ring buffer read into an EventReader. Shared by
// `Run()` and the session (ebpf_backend.cc, ebpf_session.cc).
//
// Example:
//   Program program;
//   absl::Status s = LoadProgram(options, size_t{16} << 20, &reader, &program);
//   program.Add(pid);          // the command: its tree is traced from now on
//   program.Consume();         // events so far into the reader
//   if (TreeEmpty(program)) ... // every process of the tree has exited

#ifndef FILEMON_BACKENDS_EBPF_LOADER_H_
#define FILEMON_BACKENDS_EBPF_LOADER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "filemon/backends/ebpf/event_reader.h"
#include "filemon/core/backend.h"
#include "filemon/core/run_control_internal.h"

struct filemon_bpf;  // the skeleton (filemon.skel.h)
struct ring_buffer;  // libbpf

namespace filemon {
namespace ebpf_internal {

// A loaded and attached program with its ring buffer; detached and freed on destruction (the
// tree is no longer traced then). Not copyable: it owns the kernel objects.
class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program();

  // Puts process `pid` in the traced tree (its descendants follow at fork).
  absl::Status Add(pid_t pid);
  // The same for the calling process, from a child between (v)fork and exec: one system call,
  // nothing allocated. 0, or the errno.
  int AddSelf() const;
  // Delivers the events in the ring buffer to the reader. Never blocks.
  void Consume();
  // Polls readable when events are waiting.
  int events_fd() const;
  int traced_fd() const;
  // Events the kernel could not put in the full ring buffer (and processes it could not add
  // to the tree), so far.
  uint64_t lost_records() const;

 private:
  friend absl::Status LoadProgram(const TraceOptions&, size_t, EventReader*, Program*);
  filemon_bpf* skel_ = nullptr;
  ring_buffer* events_ = nullptr;
};

// Loads and attaches a program for `options` with a ring buffer of `ring_bytes` whose events go
// to `reader`. Unavailable when the kernel refuses BPF (the message says what is missing).
absl::Status LoadProgram(const TraceOptions& options, size_t ring_bytes, EventReader* reader,
                         Program* program);

// OK if the kernel lets this process load a tracing program (a container's seccomp filter, a
// user namespace such as Bazel's sandbox, or a security module may refuse what root could do
// elsewhere): loads the smallest one and frees it. Unavailable with the reason otherwise.
absl::Status TrialLoad();

// Whether the kernel's map of traced processes is empty: every process of the tree has exited,
// and each wrote its X into the ring buffer before it left the map.
bool TreeEmpty(const Program& program);

// Sends `signals` to every process of the tree still running.
void SignalTree(const Program& program, const TreeSignals& signals);

}  // namespace ebpf_internal
}  // namespace filemon

#endif  // FILEMON_BACKENDS_EBPF_LOADER_H_
