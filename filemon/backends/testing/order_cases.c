// Programs whose process trees test the order of F and X in a log (issue 18): parents that
// create a child and exit at once, and a record too large for one atomic pipe write. Usage:
//   order_cases MODE DIR
// Every child made below does `chdir(DIR)` then opens the relative "hdr" for reading (or execs
// a program that does), so its records only make sense after its F:
//   fork     fork(); the parent returns at once
//   daemon   daemon(1, 1) (fork, the parent _exits), then the daemon does the same
//   spawn    posix_spawn of /bin/cat with file actions addchdir_np(DIR), addopen(0, "hdr");
//            the parent does not wait
//   vfork    vfork(); the child chdirs and execs /bin/cat hdr; the parent returns at once
//   threads  4 threads, each forking 4 children (which exit without waiting for anything);
//            every thread waits for its own children
//   signal   a SIGUSR1 handler forks; main raises it, returns without waiting
//   clone3   raw syscall(SYS_clone3) of a child with its own memory (as fork); the parent returns
//            at once
//   clone    the same with raw syscall(SYS_clone, SIGCHLD, 0, ...)
//   long     no child: creates DIR/<~3000 bytes>/a, renames it to .../b, links .../b to
//            .../c (two paths of ~3000 bytes each: more than PIPE_BUF together), then opens
//            DIR/after for writing and returns
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static const char* dir;

// The child's work: its records need the cwd its F gives it.
static void ReadHeaderIn(void) {
  if (chdir(dir) != 0) _exit(20);
  int fd = open("hdr", O_RDONLY);
  if (fd < 0) _exit(21);
  close(fd);
}

static void* ForkFour(void* arg) {
  (void)arg;
  pid_t children[4];
  for (int i = 0; i < 4; ++i) {
    children[i] = fork();
    if (children[i] == 0) {
      ReadHeaderIn();
      _exit(0);
    }
    if (children[i] < 0) return (void*)1;
  }
  for (int i = 0; i < 4; ++i) {
    int status;
    if (waitpid(children[i], &status, 0) != children[i] || status != 0) return (void*)1;
  }
  return NULL;
}

static int Threads(void) {
  pthread_t threads[4];
  for (int i = 0; i < 4; ++i) {
    if (pthread_create(&threads[i], NULL, ForkFour, NULL) != 0) return 3;
  }
  int failed = 0;
  for (int i = 0; i < 4; ++i) {
    void* result;
    pthread_join(threads[i], &result);
    failed |= result != NULL;
  }
  return failed ? 4 : 0;
}

static void ForkInHandler(int sig) {
  (void)sig;
  if (fork() == 0) {
    ReadHeaderIn();
    _exit(0);
  }
}

static int Spawn(void) {
  posix_spawn_file_actions_t actions;
  if (posix_spawn_file_actions_init(&actions) != 0) return 3;
  if (posix_spawn_file_actions_addchdir_np(&actions, dir) != 0) return 4;
  if (posix_spawn_file_actions_addopen(&actions, 0, "hdr", O_RDONLY, 0) != 0) return 5;
  char* argv[] = {"cat", NULL};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/cat", &actions, NULL, argv, environ) != 0) return 6;
  return 0;
}

// The kernel's struct clone_args as clone3 first took it (64 bytes).
struct CloneArgs {
  unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// A fork made by the raw system call (`nr` SYS_clone3 or SYS_clone), which no libc fork
// wrapper sees; the child reads the header and exits, the parent returns at once.
static int RawClone(long nr) {
  long pid;
  if (nr == SYS_clone3) {
    struct CloneArgs args = {0};
    args.exit_signal = SIGCHLD;
    pid = syscall(SYS_clone3, &args, sizeof(args));
  } else {
    pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
  }
  if (pid == 0) {
    ReadHeaderIn();
    _exit(0);
  }
  return pid < 0 ? 3 : 0;
}

// DIR/<12 components of 250 bytes>: about 3000 bytes.
static int LongPaths(void) {
  static char base[4096];
  int n = snprintf(base, sizeof(base), "%s", dir);
  for (int i = 0; i < 12; ++i) {
    base[n++] = '/';
    memset(base + n, 'a' + i, 250);
    n += 250;
    base[n] = '\0';
    if (mkdir(base, 0755) != 0) return 3;
  }
  char a[4200], b[4200], c[4200], after[4200];
  snprintf(a, sizeof(a), "%s/a", base);
  snprintf(b, sizeof(b), "%s/b", base);
  snprintf(c, sizeof(c), "%s/c", base);
  snprintf(after, sizeof(after), "%s/after", dir);
  int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 4;
  close(fd);
  if (rename(a, b) != 0) return 5;
  if (link(b, c) != 0) return 6;
  fd = open(after, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 7;
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* mode = argv[1];
  dir = argv[2];
  if (strcmp(mode, "fork") == 0) {
    pid_t pid = fork();
    if (pid == 0) ReadHeaderIn();
    return pid < 0 ? 3 : 0;
  }
  if (strcmp(mode, "daemon") == 0) {
    if (daemon(1, 1) != 0) return 3;
    ReadHeaderIn();
    return 0;
  }
  if (strcmp(mode, "spawn") == 0) return Spawn();
  if (strcmp(mode, "vfork") == 0) {
    pid_t pid = vfork();
    if (pid == 0) {
      char* cat_argv[] = {"cat", "hdr", NULL};
      if (chdir(dir) != 0) _exit(20);
      execve("/bin/cat", cat_argv, environ);
      _exit(127);
    }
    return pid < 0 ? 3 : 0;
  }
  if (strcmp(mode, "threads") == 0) return Threads();
  if (strcmp(mode, "signal") == 0) {
    signal(SIGUSR1, ForkInHandler);
    raise(SIGUSR1);
    return 0;
  }
  if (strcmp(mode, "clone3") == 0) return RawClone(SYS_clone3);
  if (strcmp(mode, "clone") == 0) return RawClone(SYS_clone);
  if (strcmp(mode, "long") == 0) return LongPaths();
  return 2;
}
