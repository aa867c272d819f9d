// shell_calls: system(3), popen(3) and pclose(3) behave under a tracer as they do untraced,
// while other threads change the environment. Exits 0, else the line of the first check that
// failed (and says which on stderr).
//   - a setenv made by another thread while system() or popen() runs is kept: two threads
//     each replace a variable of their own over and over, and find at every turn the value
//     they set last (the variables exist from the start, so that glibc never moves the
//     environment array under a reader: that race is glibc's own);
//   - the shell gets the caller's environment;
//   - system(): SIGINT and SIGQUIT ignored in the caller while the shell runs (a SIGINT the
//     shell sends its parent is lost), SIGCHLD blocked (a handler that reaps does not steal
//     the status), SIGINT back to its default action in the shell, the handlers restored
//     after; system(NULL) says a shell exists;
//   - popen(): a shell does not inherit the streams of earlier popen() calls; "e" sets
//     close-on-exec on the caller's end, and only "e"; pclose returns the shell's status; a
//     mode other than "r" or "w" (with "e") fails with EINVAL.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// Says on stderr that the check `what` at `line` failed; returns the exit code for it.
static int Failure(int line, const char* what) {
  fprintf(stderr, "shell_calls:%d: %s (errno %d)\n", line, what, errno);
  return line % 250 + 1;
}

#define CHECK(cond)                               \
  do {                                            \
    if (!(cond)) return Failure(__LINE__, #cond); \
  } while (0)

static atomic_int stop;
static atomic_int lost;  // set once a thread found its setenv lost (it says so on stderr)

static void* ChangeEnvironment(void* name) {
  char value[32];
  for (unsigned turn = 1; !atomic_load(&stop); ++turn) {
    snprintf(value, sizeof(value), "%u", turn % 512);  // glibc keeps every value it was given
    if (setenv(name, value, 1) != 0) break;
    sched_yield();
    const char* now = getenv(name);
    if (now == NULL || strcmp(now, value) != 0) {
      fprintf(stderr, "shell_calls: %s is %s, set to %s\n", (char*)name, now ? now : "unset",
              value);
      atomic_store(&lost, 1);
      break;
    }
  }
  return NULL;
}

// The first line `command` writes, read through popen(command, "r"), into `line`.
static int ReadLine(const char* command, char* line, size_t size) {
  FILE* shell = popen(command, "r");
  CHECK(shell != NULL);
  CHECK(fgets(line, (int)size, shell) != NULL);
  line[strcspn(line, "\n")] = '\0';
  CHECK(pclose(shell) == 0);
  return 0;
}

static int Racing(void) {
  CHECK(setenv("SHELL_CALLS_A", "0", 1) == 0 && setenv("SHELL_CALLS_B", "0", 1) == 0);
  CHECK(setenv("SHELL_CALLS_MAIN", "main value", 1) == 0);
  pthread_t threads[2];
  CHECK(pthread_create(&threads[0], NULL, ChangeEnvironment, "SHELL_CALLS_A") == 0);
  CHECK(pthread_create(&threads[1], NULL, ChangeEnvironment, "SHELL_CALLS_B") == 0);
  int failed = 0;
  for (int round = 0; round < 30 && failed == 0 && atomic_load(&lost) == 0; ++round) {
    char line[256];
    // Not CHECK: the threads must be stopped before the exit.
    if (system("exit 3") != W_EXITCODE(3, 0)) failed = Failure(__LINE__, "system(\"exit 3\")");
    if (failed == 0) failed = ReadLine("echo \"$SHELL_CALLS_MAIN\"", line, sizeof(line));
    if (failed == 0 && strcmp(line, "main value") != 0) {
      failed = Failure(__LINE__, "the shell's SHELL_CALLS_MAIN");
    }
  }
  atomic_store(&stop, 1);
  pthread_join(threads[0], NULL);
  pthread_join(threads[1], NULL);
  if (failed != 0) return failed;
  CHECK(atomic_load(&lost) == 0);
  return 0;
}

static atomic_int interrupts;
static void CountInterrupt(int sig) {
  (void)sig;
  atomic_fetch_add(&interrupts, 1);
}
static void ReapAll(int sig) {
  (void)sig;
  const int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) continue;
  errno = saved;
}

static int SystemSignals(void) {
  CHECK(system(NULL) != 0);
  struct sigaction count = {.sa_handler = CountInterrupt};
  struct sigaction reap = {.sa_handler = ReapAll};
  CHECK(sigaction(SIGINT, &count, NULL) == 0 && sigaction(SIGCHLD, &reap, NULL) == 0);
  // Ignored in the caller while the shell runs: the signal is discarded.
  CHECK(system("kill -INT $PPID; exit 4") == W_EXITCODE(4, 0));
  CHECK(atomic_load(&interrupts) == 0);
  // The shell has SIGINT's default action, not the caller's SIG_IGN.
  const int status = system("kill -INT $$; exit 5");
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
  // The handler is back.
  CHECK(raise(SIGINT) == 0 && atomic_load(&interrupts) == 1);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  return 0;
}

static int PopenStreams(void) {
  FILE* first = popen("cat >/dev/null", "w");
  CHECK(first != NULL);
  CHECK((fcntl(fileno(first), F_GETFD) & FD_CLOEXEC) == 0);
  char command[128], line[64];
  snprintf(command, sizeof(command), "test -e /proc/self/fd/%d && echo open || echo closed",
           fileno(first));
  int failed = ReadLine(command, line, sizeof(line));
  if (failed != 0) return failed;
  CHECK(strcmp(line, "closed") == 0);
  FILE* cloexec = popen("true", "re");
  CHECK(cloexec != NULL && (fcntl(fileno(cloexec), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(pclose(cloexec) == 0);
  CHECK(fputs("x\n", first) >= 0 && pclose(first) == 0);
  FILE* exits = popen("exit 7", "r");
  CHECK(exits != NULL && pclose(exits) == W_EXITCODE(7, 0));
  errno = 0;
  CHECK(popen("true", "x") == NULL && errno == EINVAL);
  errno = 0;
  CHECK(popen("true", "rw") == NULL && errno == EINVAL);
  return 0;
}

int main(void) {
  int failed = Racing();
  if (failed == 0) failed = SystemSignals();
  if (failed == 0) failed = PopenStreams();
  return failed;
}
