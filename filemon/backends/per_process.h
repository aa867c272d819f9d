// File: filemon/backends/per_process.h
//
// `PerProcess<T>`: one T for the calling process, shared by all its threads, made by the first
// `Get` and never destroyed: state a backend keeps for a whole process rather than per trace
// (the preload supervisor every session of bmake shares, shared_supervisor.h; a loaded BPF
// program could be another).
//
// Fork: a T belongs to the process that made it. A forked child (fork without exec) has only
// the thread that forked, so a T that runs threads of its own would be a shell there, and a
// lock held by another thread at the fork stays held. The child's first `Get` therefore makes
// a T of its own and leaves the parent's object as it was (never destroyed, never locked in
// the child). What the parent's T holds stays in the child until it exits or execs: its
// descriptors should be close-on-exec.
//
// A failed `make` is not remembered: the next `Get` tries again.
//
// `ThisProcessId()`: getpid() without a system call but the first in each process, for the
// guards that tell a forked child from the process that made an object (this file's `Get`,
// a session's tree).
//
// Example:
//   static PerProcess<Supervisor> supervisors;
//   absl::StatusOr<Supervisor*> s = supervisors.Get([] { return Supervisor::Make(); });

#ifndef FILEMON_BACKENDS_PER_PROCESS_H_
#define FILEMON_BACKENDS_PER_PROCESS_H_

#include <sys/types.h>
#include <unistd.h>

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace filemon {

// The calling process's pid, asked of the kernel once per process: kept in a page the kernel
// empties in every child made by fork (MADV_WIPEONFORK: any clone without CLONE_VM, raw system
// calls included), so a forked child asks again. Where the kernel has no such page (before
// Linux 4.14), getpid() each time. The page is set up without an init guard: a child forked by
// another thread while the process's first call runs asks for itself rather than waiting.
// REQUIRES: not called in a child that shares the caller's memory (vfork, clone with CLONE_VM
// but without CLONE_THREAD): there it returns the parent's pid, and a first call there would
// leave the child's in the parent's page. Such a child's code uses getpid() itself.
pid_t ThisProcessId();

template <typename T>
class PerProcess {
 public:
  constexpr PerProcess() = default;
  PerProcess(const PerProcess&) = delete;
  PerProcess& operator=(const PerProcess&) = delete;

  // The calling process's T, made by `make` (which runs under a lock, once per process unless
  // it fails) if there is none yet.
  absl::StatusOr<T*> Get(absl::FunctionRef<absl::StatusOr<T*>()> make) {
    Slot* slot = SlotOfThisProcess();
    absl::MutexLock lock(&slot->mu);
    if (slot->value == nullptr) {
      absl::StatusOr<T*> made = make();
      if (!made.ok()) return made.status();
      slot->value = *made;
    }
    return slot->value;
  }

 private:
  struct Slot {
    explicit Slot(pid_t pid) : owner(pid) {}
    const pid_t owner;
    absl::Mutex mu;
    T* value ABSL_GUARDED_BY(mu) = nullptr;
  };

  // This process's slot; a parent's (inherited by fork) is replaced, not touched.
  Slot* SlotOfThisProcess() {
    const pid_t self = ThisProcessId();
    Slot* slot = current_.load(std::memory_order_acquire);
    while (slot == nullptr || slot->owner != self) {
      Slot* fresh = new Slot(self);
      if (current_.compare_exchange_strong(slot, fresh, std::memory_order_acq_rel)) return fresh;
      delete fresh;  // another thread of this process made one: `slot` is it now
    }
    return slot;
  }

  std::atomic<Slot*> current_{nullptr};
};

}  // namespace filemon

#endif  // FILEMON_BACKENDS_PER_PROCESS_H_
