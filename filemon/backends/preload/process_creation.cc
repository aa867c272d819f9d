#include "filemon/backends/preload/process_creation.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdint>

#include "filemon/backends/preload/interposer_probes.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/libc_window.h"
#include "filemon/backends/preload/message.h"
#include "filemon/backends/preload/raw_syscall.h"

namespace filemon {
namespace preload_internal {

uint32_t NextToken() {
  uint32_t token;
  do {
    token = g_creations.fetch_add(1, std::memory_order_relaxed) + 1;
  } while (token == 0);
  return token;
}

void SendFork(int parent, int child, uint32_t token) {
  Message m;
  m.AddFork(parent, child, token);
  m.Send();
}

void ResetCreations() {
  g_creations.store(0, std::memory_order_relaxed);
  g_creations_in_flight.store(0, std::memory_order_relaxed);
  g_exit_recorded.store(0, std::memory_order_relaxed);
}

void OnForkChild() {
  t_forking = false;
  const uint32_t token = t_fork_token;
  t_fork_token = 0;
  if (!Active()) return;
  int parent = g_pid.load(std::memory_order_relaxed);
  int self = static_cast<int>(RawSyscall0(SYS_getpid));
  g_pid.store(self, std::memory_order_relaxed);
  t_pid = self;
  ResetCreations();
  ResetSyscallWindowAfterFork();
  ForgetProbesInChild();
  SendFork(parent, self, token);
}

namespace {

void OnForkPrepare() { t_forking = true; }
void OnForkParent() { t_forking = false; }

// 0: none; 1: being registered; 2: registered. Handlers registered by the program before ours
// run in the child before ours; t_forking gives their records the child's pid (they precede its
// F). The ways into libc's fork: fork, and the two libc functions that call it internally,
// daemon and forkpty (the third caller, sunrpc's keyenvoy helper, is obsolete).
std::atomic<int> g_fork_handlers{0};

}  // namespace

void EnsureForkHandlers() {
  if (g_fork_handlers.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  if (g_fork_handlers.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    pthread_atfork(OnForkPrepare, OnForkParent, OnForkChild);
    g_fork_handlers.store(2, std::memory_order_release);
    return;
  }
  while (g_fork_handlers.load(std::memory_order_acquire) != 2) sched_yield();
}

}  // namespace preload_internal
}  // namespace filemon
