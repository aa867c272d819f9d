// The wrappers of system(3), popen(3) and pclose(3), rebuilt as glibc builds them on its own
// posix_spawn, but on the posix_spawn wrapper with the environment passed explicitly
// (SpawnShell, exec.h): glibc's versions give their shell `environ`, which the interposer
// could only reach by swapping that global for a while, and a setenv in another thread
// meanwhile was then lost, or left `environ` pointing into a dead frame.
//
// What glibc (2.36 and later) does, kept here:
// - system(): SIGINT and SIGQUIT ignored in the caller while the shell runs (the first of
//   concurrent calls ignores them, the last restores them), SIGCHLD blocked in the calling
//   thread; the shell starts with the caller's mask and SIGINT/SIGQUIT at their defaults
//   (unless the caller ignored them); the status of waitpid, 127 << 8 when the shell did not
//   start (errno says why); system(NULL) is nonzero when `exit 0` runs.
// - popen(): mode "r" or "w" with an optional "e" (close-on-exec on the caller's end), else
//   EINVAL; a close-on-exec pipe whose child end becomes the shell's standard input or output;
//   the caller's ends of the streams of earlier popen() calls closed in the shell; ENOMEM when
//   the shell did not start, as glibc says whatever the reason.
// - pclose(): closes the stream, waits for the shell (again after EINTR), returns its status.
// Not kept: system() is no cancellation point here. A stream of this popen closed by fclose
// (which POSIX leaves undefined) is not waited for, and its descriptor is still closed in
// later shells.

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filemon/backends/preload/exec.h"
#include "filemon/backends/preload/interposer_state.h"
#include "filemon/backends/preload/real_function.h"

extern "C" char** environ;

namespace filemon {
namespace preload_internal {
namespace {

// Rarely written, like everything of this file: after .bss (interposer_state.h).
FILEMON_COLD_BSS DECLARE_REAL(system, int (*)(const char*));
FILEMON_COLD_BSS DECLARE_REAL(popen, FILE* (*)(const char*, const char*));
FILEMON_COLD_BSS DECLARE_REAL(pclose, int (*)(FILE*));

// waitpid for `pid` again after EINTR (the interposed waitpid: a shell killed by a signal
// gets its X). Returns the status, or -1.
int WaitForShell(pid_t pid) {
  int status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(pid, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  return reaped == pid ? status : -1;
}

// system(3)'s dispositions of SIGINT and SIGQUIT, shared by the threads inside system().
FILEMON_COLD_BSS pthread_mutex_t g_system_lock = PTHREAD_MUTEX_INITIALIZER;
FILEMON_COLD_BSS int g_system_calls = 0;
FILEMON_COLD_BSS struct sigaction g_caller_int = {}, g_caller_quit = {};

int RunShell(const char* command) {
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigset_t reset;
  sigemptyset(&reset);
  pthread_mutex_lock(&g_system_lock);
  if (g_system_calls++ == 0) {
    sigaction(SIGINT, &ignore, &g_caller_int);
    sigaction(SIGQUIT, &ignore, &g_caller_quit);
  }
  if (g_caller_int.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
  if (g_caller_quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
  pthread_mutex_unlock(&g_system_lock);
  sigset_t child_signal, caller_mask;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_signal, &caller_mask);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &caller_mask);
  posix_spawnattr_setsigdefault(&attr, &reset);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = SpawnShell(&pid, command, nullptr, &attr, environ);
  posix_spawnattr_destroy(&attr);
  const int status = rc == 0 ? WaitForShell(pid) : W_EXITCODE(127, 0);

  pthread_mutex_lock(&g_system_lock);
  if (--g_system_calls == 0) {
    sigaction(SIGINT, &g_caller_int, nullptr);
    sigaction(SIGQUIT, &g_caller_quit, nullptr);
  }
  pthread_mutex_unlock(&g_system_lock);
  sigprocmask(SIG_SETMASK, &caller_mask, nullptr);
  if (rc != 0) errno = rc;
  return status;
}

// The streams of this popen not yet pclosed: glibc's list of its own, whose descriptors each
// new shell closes. The lock is held across the spawn, as glibc does, so that no shell
// inherits the stream another thread is opening; a fork child starts with it free.
struct ShellStream {
  FILE* stream;
  int fd;  // the caller's end
  pid_t pid;
  ShellStream* next;
};
FILEMON_COLD_BSS pthread_mutex_t g_streams_lock = PTHREAD_MUTEX_INITIALIZER;
FILEMON_COLD_BSS ShellStream* g_streams = nullptr;
FILEMON_COLD_BSS pthread_once_t g_streams_atfork = PTHREAD_ONCE_INIT;

void RegisterStreamsAtfork() {
  pthread_atfork([] { pthread_mutex_lock(&g_streams_lock); },
                 [] { pthread_mutex_unlock(&g_streams_lock); },
                 [] { pthread_mutex_init(&g_streams_lock, nullptr); });
}

// The mode of popen(3): whether the caller reads, and whether its end is close-on-exec.
bool ParseMode(const char* mode, bool* reads, bool* cloexec) {
  bool read = false, write = false;
  *cloexec = false;
  for (; *mode != '\0'; ++mode) {
    if (*mode == 'r') {
      read = true;
    } else if (*mode == 'w') {
      write = true;
    } else if (*mode == 'e') {
      *cloexec = true;
    } else {
      return false;
    }
  }
  *reads = read;
  return read != write;
}

// Spawns the shell of `entry` (whose stream and caller's end are open) with `child_end` as its
// standard input or output (`child_fd`). Returns as posix_spawn does.
int SpawnStreamShell(const char* command, ShellStream* entry, int child_end, int child_fd,
                     bool cloexec) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int rc = posix_spawn_file_actions_adddup2(&actions, child_end, child_fd);
  pthread_once(&g_streams_atfork, RegisterStreamsAtfork);
  pthread_mutex_lock(&g_streams_lock);
  for (const ShellStream* s = g_streams; s != nullptr && rc == 0; s = s->next) {
    if (s->fd != child_fd) rc = posix_spawn_file_actions_addclose(&actions, s->fd);
  }
  if (rc == 0) rc = SpawnShell(&entry->pid, command, &actions, nullptr, environ);
  if (rc == 0) {
    if (!cloexec) fcntl(entry->fd, F_SETFD, 0);
    entry->next = g_streams;
    g_streams = entry;
  }
  pthread_mutex_unlock(&g_streams_lock);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

FILE* OpenShellStream(const char* command, const char* mode) {
  bool reads = false, cloexec = false;
  if (!ParseMode(mode, &reads, &cloexec)) {
    errno = EINVAL;
    return nullptr;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return nullptr;
  const int caller_end = pipe_fds[reads ? 0 : 1];
  int child_end = pipe_fds[reads ? 1 : 0];
  const int child_fd = reads ? STDOUT_FILENO : STDIN_FILENO;
  if (child_end == child_fd) {  // dup2 onto itself would leave it close-on-exec
    const int moved = fcntl(child_end, F_DUPFD_CLOEXEC, 0);
    close(child_end);
    child_end = moved;
  }
  auto* entry = static_cast<ShellStream*>(malloc(sizeof(ShellStream)));
  FILE* stream = nullptr;
  if (child_end >= 0 && entry != nullptr) stream = fdopen(caller_end, reads ? "r" : "w");
  int rc = ENOMEM;
  if (stream != nullptr) {
    *entry = ShellStream{stream, caller_end, 0, nullptr};
    rc = SpawnStreamShell(command, entry, child_end, child_fd, cloexec);
  }
  if (child_end >= 0) close(child_end);
  if (rc == 0) return stream;
  if (stream != nullptr) {
    fclose(stream);
  } else {
    close(caller_end);
  }
  free(entry);
  errno = ENOMEM;
  return nullptr;
}

// Takes the entry of `stream` out of the list; nullptr if it is not one of ours.
ShellStream* TakeShellStream(FILE* stream) {
  pthread_mutex_lock(&g_streams_lock);
  ShellStream** link = &g_streams;
  while (*link != nullptr && (*link)->stream != stream) link = &(*link)->next;
  ShellStream* entry = *link;
  if (entry != nullptr) *link = entry->next;
  pthread_mutex_unlock(&g_streams_lock);
  return entry;
}

}  // namespace
}  // namespace preload_internal
}  // namespace filemon

// ---------------------------------------------------------------------------------------------
// The interposed entry points (exported; see interposer.lds).

using namespace filemon::preload_internal;  // NOLINT: the C entry points below

FILEMON_EXPORT int system(const char* command) {
  if (!Active()) return REAL(system)(command);
  if (command == nullptr) return RunShell("exit 0") == 0;  // whether a shell exists
  return RunShell(command);
}

FILEMON_EXPORT FILE* popen(const char* command, const char* mode) {
  if (!Active()) return REAL(popen)(command, mode);
  return OpenShellStream(command, mode);
}

FILEMON_EXPORT int pclose(FILE* stream) {
  ShellStream* entry = TakeShellStream(stream);
  if (entry == nullptr) return REAL(pclose)(stream);  // glibc's own popen made it
  const pid_t pid = entry->pid;
  free(entry);
  const int closed = fclose(stream);
  const int status = WaitForShell(pid);
  return closed != 0 && status == 0 ? -1 : status;
}
