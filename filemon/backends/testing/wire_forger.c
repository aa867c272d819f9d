// A traced process of one preload session that tries to write into another session's log:
// with the channel descriptors its own session gave it (FILEMON_PRELOAD_PIPE and _FD), it
// sends records in the interposer's wire format (filemon/backends/preload/wire_format.h,
// spelled out here as a hostile program would) that claim the pid of a process of the other
// session's tree:
//   PREFIX.pipe      W VICTIM PREFIX.pipe, through its own pipe;
//   PREFIX.adopted   F VICTIM SELF, then W SELF PREFIX.adopted, through its own pipe (it
//                    claims to be the victim's child);
//   PREFIX.socket    W VICTIM PREFIX.socket, a plain message through the shared socket;
//   PREFIX.deferred  the same, deferred through the socket behind a marker in its own pipe.
// Usage: wire_forger_bin VICTIM_PID PREFIX. Exits 0 once everything is sent, 0 at once without
// the variables (a backend other than preload), 2 on a usage error, 3 if a send failed.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum { kRecords = 1, kDeferred = 7, kMarker = 8 };

struct Header {
  uint8_t type, reserved;
  uint16_t size;
  int32_t sender;
};

struct Record {
  uint8_t kind, reserved;
  uint16_t len1, len2, reserved2;
  int32_t pid, child_pid, status, signal;
};

static char message[4096];
static size_t used;

static void Begin(void) { used = sizeof(struct Header); }

static void Add(char kind, int32_t pid, int32_t child, const char* path) {
  struct Record r;
  memset(&r, 0, sizeof(r));
  r.kind = (uint8_t)kind;
  r.pid = pid;
  r.child_pid = child;
  r.len1 = (uint16_t)(path != NULL ? strlen(path) : 0);
  memcpy(message + used, &r, sizeof(r));
  used += sizeof(r);
  if (r.len1 > 0) memcpy(message + used, path, r.len1);
  used += r.len1;
}

// Fills the header of `buf` (type, `size` bytes in all, this process as the sender).
static void Seal(char* buf, uint8_t type, size_t size) {
  struct Header h;
  memset(&h, 0, sizeof(h));
  h.type = type;
  h.size = (uint16_t)size;
  h.sender = (int32_t)getpid();
  memcpy(buf, &h, sizeof(h));
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* pipe_var = getenv("FILEMON_PRELOAD_PIPE");
  const char* socket_var = getenv("FILEMON_PRELOAD_FD");
  if (pipe_var == NULL || socket_var == NULL) return 0;
  const int pipe_fd = atoi(pipe_var);
  const int socket_fd = atoi(socket_var);
  const int32_t victim = (int32_t)atoi(argv[1]);
  const int32_t self = (int32_t)getpid();
  char path[1024];
  int failed = 0;

  Begin();
  snprintf(path, sizeof(path), "%s.pipe", argv[2]);
  Add('W', victim, 0, path);
  Seal(message, kRecords, used);
  failed |= write(pipe_fd, message, used) != (ssize_t)used;

  Begin();
  snprintf(path, sizeof(path), "%s.adopted", argv[2]);
  Add('F', victim, self, NULL);
  Add('W', self, 0, path);
  Seal(message, kRecords, used);
  failed |= write(pipe_fd, message, used) != (ssize_t)used;

  Begin();
  snprintf(path, sizeof(path), "%s.socket", argv[2]);
  Add('W', victim, 0, path);
  Seal(message, kRecords, used);
  failed |= send(socket_fd, message, used, MSG_NOSIGNAL) != (ssize_t)used;

  // Deferred: a header and a 64-bit id, then the whole message; the marker is the same prefix.
  Begin();
  snprintf(path, sizeof(path), "%s.deferred", argv[2]);
  Add('W', victim, 0, path);
  Seal(message, kRecords, used);
  const uint64_t id = ((uint64_t)(uint32_t)self << 32) | 0x7777u;
  char prefix[sizeof(struct Header) + sizeof(id)];
  Seal(prefix, kDeferred, sizeof(prefix) + used);
  memcpy(prefix + sizeof(struct Header), &id, sizeof(id));
  struct iovec parts[2] = {{prefix, sizeof(prefix)}, {message, used}};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = parts;
  msg.msg_iovlen = 2;
  failed |= sendmsg(socket_fd, &msg, MSG_NOSIGNAL) != (ssize_t)(sizeof(prefix) + used);
  Seal(prefix, kMarker, sizeof(prefix));
  failed |= write(pipe_fd, prefix, sizeof(prefix)) != (ssize_t)sizeof(prefix);
  return failed ? 3 : 0;
}
