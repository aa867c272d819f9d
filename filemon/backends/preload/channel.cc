#include "filemon/backends/preload/channel.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <initializer_list>

#include "filemon/backends/preload/safe_string.h"
#include "filemon/backends/preload/start_text.h"

namespace filemon {
namespace preload_internal {
namespace {

// The count of this process's deferred messages (wire_format.h), for their ids.
std::atomic<uint32_t> g_deferred{0};

}  // namespace

__attribute__((noinline, cold)) void SendDeferred(int pipe, const char* data, size_t size) {
  const int32_t sender = Pid();
  const uint64_t id = DeferredId(sender, g_deferred.fetch_add(1, std::memory_order_relaxed) + 1);
  char wrapped[kDeferredPrefix + kMaxMessage];
  MakeDeferredPrefix(wrapped, MessageType::kDeferred, id, size, sender);
  memcpy(wrapped + kDeferredPrefix, data, size);
  const bool sent = SendToSocket(wrapped, kDeferredPrefix + size);
  char marker[kDeferredPrefix];
  MakeDeferredPrefix(marker, MessageType::kMarker, id, 0, sender);
  if (!WritePipe(pipe, marker, sizeof(marker)) && !sent) EndIfTheSupervisorIsGone();
}

bool SendToSocket(const char* data, size_t size) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = g_fd.load(std::memory_order_relaxed);
    if (fd < 0) return false;
    long n;
    do {
      n = RawSyscall6(SYS_sendto, fd, reinterpret_cast<long>(data), static_cast<long>(size),
                      MSG_NOSIGNAL, 0, 0);
    } while (n == -EINTR);
    if (n >= 0) return true;
    // The program closed or replaced our descriptor behind our back (a raw close, an
    // inherited close-on-exec): reconnect through the supervisor's named socket.
    if (n != -EBADF && n != -ENOTSOCK && n != -ENOTCONN && n != -EPIPE && n != -ECONNREFUSED &&
        n != -EOPNOTSUPP) {
      return false;
    }
    if (!Reconnect(fd)) return false;
  }
  return false;
}

__attribute__((noinline, cold)) void EndIfTheSupervisorIsGone() {
  if (!g_pipe_reader_gone.load(std::memory_order_relaxed)) return;
  RawSyscall2(SYS_kill, RawSyscall0(SYS_getpid), SIGKILL);
}

bool Reconnect(int broken_fd) {
  if (g_socket_name[0] == '\0') return false;
  long s = RawSyscall3(SYS_socket, AF_UNIX, SOCK_SEQPACKET, 0);
  if (s < 0) return false;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  size_t len = Length(g_socket_name);
  memcpy(addr.sun_path + 1, g_socket_name, len);  // abstract: leading NUL
  long rc = RawSyscall3(SYS_connect, s, reinterpret_cast<long>(&addr),
                        static_cast<long>(offsetof(struct sockaddr_un, sun_path) + 1 + len));
  if (rc != 0) {
    RawSyscall1(SYS_close, s);
    g_fd.store(-1, std::memory_order_relaxed);
    return false;
  }
  // A fd number that the program does not use: dup above 900 (the program's own fds are
  // usually low); keep `s` if that fails.
  long high = RawSyscall3(SYS_fcntl, s, F_DUPFD, 900);
  if (high >= 0) {
    RawSyscall1(SYS_close, s);
    s = high;
  }
  int expected = broken_fd;
  if (!g_fd.compare_exchange_strong(expected, static_cast<int>(s))) {
    RawSyscall1(SYS_close, s);  // another thread reconnected first
  }
  return true;
}

FILEMON_START_TEXT bool IsOurSocket(int fd) {
  // One call: getsockopt fails (ENOTSOCK, EBADF) on anything but an open socket.
  int type = 0;
  socklen_t len = sizeof(type);
  if (RawSyscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, reinterpret_cast<long>(&type),
                  reinterpret_cast<long>(&len), 0) != 0) {
    return false;
  }
  return type == SOCK_SEQPACKET;
}

FILEMON_START_TEXT bool IsOurPipe(int fd) {
  if (fd < 0) return false;
  struct stat st;
  if (RawSyscall2(SYS_fstat, fd, reinterpret_cast<long>(&st)) != 0) return false;
  return S_ISFIFO(st.st_mode);
}

void MoveSocketAwayFrom(int fd) {
  for (std::atomic<int>* slot : {&g_fd, &g_pipe}) {
    int ours = slot->load(std::memory_order_relaxed);
    if (ours < 0 || fd != ours) continue;
    long moved = RawSyscall3(SYS_fcntl, ours, F_DUPFD, ours + 1);
    if (moved >= 0) slot->store(static_cast<int>(moved), std::memory_order_relaxed);
  }
}

}  // namespace preload_internal
}  // namespace filemon
