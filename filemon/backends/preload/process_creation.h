// File: filemon/backends/preload/process_creation.h
//
// How the interposer records a process creation (wire_format.h, "F from both sides"): each
// creation gets a token (never 0) from this process's count; the parent writes `F parent child
// token` as soon as the creating call returned, the child writes the same from its side, and
// the supervisor keeps the first. An exit waits for the creations whose parent-side F is not
// sent yet (interposer_state.h, g_creations_in_flight), so X follows their F.
//
// The fork wrappers, clone, posix_spawn and popen go through here. libc-only, async-signal-safe
// and vfork-safe; allocates nothing.
//
// Example:
//   return CreateProcess([] { return real_fork(); });

#ifndef FILEMON_BACKENDS_PRELOAD_PROCESS_CREATION_H_
#define FILEMON_BACKENDS_PRELOAD_PROCESS_CREATION_H_

#include <atomic>
#include <cstdint>

#include "filemon/backends/preload/interposer_state.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// The next creation's token of this process (never 0).
uint32_t NextToken();

// Sends `F parent child` with `token` (0: the only F of its creation).
void SendFork(int parent, int child, uint32_t token);

// A new process's own state: nothing created yet, no exit written.
void ResetCreations();

// The child's side of fork (and of _Fork and a raw clone): caches its pid, forgets what the
// parent's process image had sent, and writes its F with the token of the creation this thread
// was in (0 for a fork that did not pass through CreateProcess). Runs in the child, inside the
// creating call.
void OnForkChild();

// Registers the atfork handlers (OnForkChild in the child) once, at this process's first fork
// rather than at its start: pthread_atfork touches two libc pages that a process which never
// forks (most of a build's) would not. Every way into libc's fork calls this first.
void EnsureForkHandlers();

// Runs `create` (fork-like: the child's pid in the parent, 0 in the child, where OnForkChild
// ran inside it) as a creation with a token; the parent writes its F as soon as `create`
// returned.
template <typename Fn>
auto CreateProcess(Fn create) -> decltype(create()) {
  const uint32_t token = NextToken();
  const uint32_t outer = t_fork_token;
  t_fork_token = token;
  g_creations_in_flight.fetch_add(1, std::memory_order_acq_rel);
  const auto r = create();
  if (r == 0) return r;  // the child
  t_fork_token = outer;
  if (r > 0) SendFork(Pid(), static_cast<int>(r), token);
  g_creations_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  return r;
}

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_PROCESS_CREATION_H_
