// File: filemon/backends/preload/channel.h
//
// The interposer's two channels to the supervisor (wire_format.h): the shared pipe for every
// message of at most kMaxPipeMessage bytes, the SOCK_SEQPACKET socket for larger ones (behind a
// marker in the pipe that keeps their place) and for a process whose pipe is gone. Also what
// keeps these descriptors alive in programs that close or replace every descriptor.
//
// SendBytes is on every record's path: it and the pipe write stay inline; the rare paths (the
// socket, reconnecting) are out of line. Raw system calls only: `errno` is never touched.
// libc-only, async-signal-safe.

#ifndef FILEMON_BACKENDS_PRELOAD_CHANNEL_H_
#define FILEMON_BACKENDS_PRELOAD_CHANNEL_H_

#include <errno.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>

#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/raw_syscall.h"
#include "filemon/backends/preload/wire_format.h"

#pragma GCC visibility push(hidden)

namespace filemon {
namespace preload_internal {

// Set when a pipe write failed with EPIPE: the supervisor closed its end (it died, or dropped
// the job). A process that does not ignore SIGPIPE never sees it: the signal ends it first.
inline std::atomic<bool> g_pipe_reader_gone{false};

// Writes `size` bytes to the pipe; false (and the socket from now on) if the pipe is gone.
inline bool WritePipe(int pipe, const char* data, size_t size) {
  long n;
  do {
    n = RawSyscall3(SYS_write, pipe, reinterpret_cast<long>(data), static_cast<long>(size));
  } while (n == -EINTR);
  if (n == static_cast<long>(size)) return true;
  if (n == -EPIPE) g_pipe_reader_gone.store(true, std::memory_order_relaxed);
  // Closed behind our back (or the supervisor is gone): the socket from now on.
  int expected = pipe;
  g_pipe.compare_exchange_strong(expected, -1);
  return false;
}

// A message too large for the pipe while the pipe works: through the socket, wrapped with an
// id, then a marker with the id through the pipe, which puts it in its place (wire_format.h).
void SendDeferred(int pipe, const char* data, size_t size);

// One message through the socket; reconnects once if the program closed or replaced it.
// False if it could not be sent.
bool SendToSocket(const char* data, size_t size);

// Called when a message could be sent through neither channel: if the pipe's reader is gone
// too, the supervisor is, and the process ends (SIGKILL), as a tracee of ptrace does with
// PTRACE_O_EXITKILL and as a process that does not ignore SIGPIPE already did at the pipe;
// otherwise nothing (the message is lost, as before).
void EndIfTheSupervisorIsGone();

// Sends one whole message (a MessageHeader and its records, `size` <= kMaxMessage bytes).
inline void SendBytes(const char* data, size_t size) {
  const int pipe = g_pipe.load(std::memory_order_relaxed);
  if (pipe >= 0) {
    if (size > kMaxPipeMessage) return SendDeferred(pipe, data, size);
    if (WritePipe(pipe, data, size)) return;
  }
  if (!SendToSocket(data, size)) EndIfTheSupervisorIsGone();
}

// Connects a new socket to the supervisor's named socket (g_socket_name) and makes it g_fd in
// place of `broken_fd` (or keeps another thread's replacement). False, and g_fd -1 when the
// connection failed, if there is none.
bool Reconnect(int broken_fd);

// The fd the supervisor gave us must still be our socket: a program may have closed it before
// exec (e.g. a `posix_spawn` close action) and reused the number for its own file. True for
// an open SOCK_SEQPACKET socket. One system call: every process makes it at its start.
bool IsOurSocket(int fd);

// The pipe the supervisor passed, unless the program reused the number: true for an open pipe
// or FIFO. One system call: every process makes it at its start. A read end passes, and is
// dropped by the first write (the start's), which fails with EBADF: its message and every
// later one go through the socket, in order, as if the check had refused it.
bool IsOurPipe(int fd);

// True if `fd` is the socket or the pipe.
inline bool IsOurs(int fd) {
  return fd >= 0 && (fd == g_fd.load(std::memory_order_relaxed) ||
                     fd == g_pipe.load(std::memory_order_relaxed));
}

// Before dup2/dup3 onto `fd`: moves our socket or pipe away if it has that number.
void MoveSocketAwayFrom(int fd);

}  // namespace preload_internal
}  // namespace filemon

#pragma GCC visibility pop

#endif  // FILEMON_BACKENDS_PRELOAD_CHANNEL_H_
