// File: filemon/backends/ebpf/loader.h
//
// The BPF program (filemon.bpf.c through its libbpf skeleton) of a run or session. It is
// loaded and attached once per process (per set of options that change it: --absolute) and
// shared: each run or session takes a slot of it, with a ring buffer of its own, and gives the
// slot back when it ends, so that every run after the first costs a few map updates instead of
// a load. The program stays attached until the process exits (the kernel then frees it): every
// system call on the machine pays the program's dispatch and a bit test meanwhile. Rings of
// ended slots are kept for the next ones. Shared by `Run()` and the session (ebpf_backend.cc,
// ebpf_session.cc).
//
// Example:
//   Program program;
//   absl::Status s = LoadProgram(options, size_t{8} << 20, &reader, &program);
//   program.AddSelf();         // in the command's child: its tree is traced from now on
//   program.Consume();         // events so far into the reader
//   if (TreeEmpty(program)) ... // every process of the tree has exited

#ifndef FILEMON_BACKENDS_EBPF_LOADER_H_
#define FILEMON_BACKENDS_EBPF_LOADER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "filemon/backends/ebpf/event_reader.h"
#include "filemon/core/backend.h"
#include "filemon/core/run_control_internal.h"

struct ring_buffer;  // libbpf

namespace filemon {
namespace ebpf_internal {

struct SharedProgram;  // loader.cc
struct RingRoute;      // loader.cc

// A slot of the shared program, with its ring buffer; given back on destruction (the tree is
// no longer traced then). Not copyable: it owns the slot. Used by one thread at a time.
class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program();

  // Puts the calling process in the traced tree (its descendants follow at fork): for a child
  // between fork (or vfork) and exec, async-signal-safe. Returns 0 or an errno value.
  int AddSelf() const;
  // Delivers the events in the ring buffer to the reader. Never blocks.
  void Consume();
  // Polls readable when events are waiting.
  int events_fd() const;
  // The pids of the tree still in the kernel's map of traced processes.
  std::vector<uint32_t> Pids() const;
  // Events the kernel could not put in the full ring buffer, so far (a child it could not add
  // to the tree is said by its F event instead: event.h, FE_UNTRACED).
  uint64_t lost_records() const;

 private:
  friend absl::Status LoadProgram(const TraceOptions&, size_t, EventReader*, Program*);
  SharedProgram* shared_ = nullptr;
  uint32_t slot_ = 0;
  size_t ring_bytes_ = 0;
  int ring_fd_ = -1;
  ring_buffer* events_ = nullptr;
  RingRoute* route_ = nullptr;  // where events_ delivers
};

// Takes a slot of the program for `options` (loading and attaching it the first time) with a
// ring buffer of `ring_bytes` whose events go to `reader`. Unavailable when the kernel refuses
// BPF (the message says what is missing); ResourceExhausted when FE_SLOTS runs or sessions of
// this process are traced at once. Thread-safe.
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
