/* Test helper for bmake_filemon_test and session_test: a nested bmake's filemon calls, run
 * under an enclosing filemon trace. Usage: bmake_filemon_nested_open LOG FILE [HOW].
 *
 * Where the enclosing trace cannot hand its children over (ptrace: one tracer per process),
 * filemon_open must refuse with EBUSY: exit status 0. Where it can (preload, auto: FreeBSD's
 * rule, see bmake_filemon.h), the helper traces a child into LOG the bmake way (vfork or fork,
 * filemon_setpid_child, then HOW) and exits 10 once the child exited 0. HOW (default execl):
 *   execl     the child execs `cat FILE` with execl
 *   fexecve   ... with fexecve of an open /bin/cat
 *   execveat  ... with execveat
 *   execvp    ... with execvp of `cat`, PATH naming two absent directories before /bin
 *   spawn     the child (forked) runs `cat FILE` with posix_spawn, waits for it and exits
 *             with its status
 *   spawnp    ... with posix_spawnp of `cat`
 *   spawnabsent  the child's posix_spawn of an absent program fails: it exits 127, the
 *             helper 11
 *   absent    the child's exec of an absent program fails: it exits 127, the helper 11
 *   absentp   ... its execvp of an absent name, PATH as for execvp
 *   script    ... its execvp of LOG.sh, a script without "#!" that runs `cat FILE` (the
 *             exec fails with ENOEXEC and execvp runs it with /bin/sh)
 * Any other outcome: 1 (opened although it should refuse is decided by the test), 2 (refused
 * otherwise, or a bad HOW), 3 (the nested trace failed). */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filemon/backends/bmake_filemon.h"

extern char **environ;

/* Under ptrace LeakSanitizer cannot work (--config=asan): the sanitizer's documented hook turns
 * it off. */
int __lsan_is_turned_off(void) { return 1; }

/* In the child, traced by F from now on: runs `cat file` as `how` says; returns only if that
 * failed (or, for the spawns, with the exit status to pass on). */
static int RunChild(const char *how, const char *file, const char *script) {
  char *argv[] = {"cat", (char *)file, NULL};
  if (strcmp(how, "execl") == 0) {
    execl("/bin/cat", "cat", file, (char *)NULL);
  } else if (strcmp(how, "script") == 0) {
    char *script_argv[] = {(char *)script, NULL};
    execvp(script, script_argv);
  } else if (strcmp(how, "absent") == 0) {
    execl("/nonexistent/filemon-absent", "absent", (char *)NULL);
  } else if (strcmp(how, "absentp") == 0) {
    execvp("filemon-absent", argv);
  } else if (strcmp(how, "fexecve") == 0) {
    int fd = open("/bin/cat", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fexecve(fd, argv, environ);
  } else if (strcmp(how, "execvp") == 0) {
    execvp("cat", argv);
  } else if (strcmp(how, "execveat") == 0) {
    execveat(AT_FDCWD, "/bin/cat", argv, environ, 0);
  } else if (strcmp(how, "spawnabsent") == 0) {
    pid_t pid;
    return posix_spawn(&pid, "/nonexistent/filemon-absent", NULL, NULL, argv, environ) == ENOENT
               ? 127
               : 125;
  } else if (strcmp(how, "spawn") == 0 || strcmp(how, "spawnp") == 0) {
    pid_t pid;
    int error = strcmp(how, "spawn") == 0 ? posix_spawn(&pid, "/bin/cat", NULL, NULL, argv, environ)
                                          : posix_spawnp(&pid, "cat", NULL, NULL, argv, environ);
    int status = 0;
    if (error != 0 || waitpid(pid, &status, 0) != pid) return 125;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
  }
  return 127;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) return 2;
  const char *how = argc == 4 ? argv[3] : "execl";
  const int forks = strncmp(how, "spawn", 5) == 0; /* the child runs code: no vfork */
  struct filemon *F = filemon_open();
  if (F == NULL) {
    if (errno != EBUSY) {
      perror("filemon_open");
      return 2;
    }
    return 0;
  }
  int log = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0 || filemon_setfd(F, log) != 0) return 3;
  const int fails =
      strcmp(how, "absent") == 0 || strcmp(how, "absentp") == 0 || strcmp(how, "spawnabsent") == 0;
  if ((strcmp(how, "execvp") == 0 || strcmp(how, "absentp") == 0) &&
      setenv("PATH", "/nonexistent/filemon-a:/nonexistent/filemon-b:/bin:/usr/bin", 1) != 0) {
    return 3;
  }
  char script[4096];
  if (snprintf(script, sizeof(script), "%s.sh", argv[1]) >= (int)sizeof(script)) return 3;
  if (strcmp(how, "script") == 0) {
    FILE *out = fopen(script, "w");
    if (out == NULL || fprintf(out, "cat %s\n", argv[2]) < 0 || fclose(out) != 0 ||
        chmod(script, 0755) != 0) {
      return 3;
    }
  }
  pid_t pid = forks ? fork() : vfork();
  if (pid == 0) {
    if (filemon_setpid_child(F, getpid()) != 0) _exit(126);
    _exit(RunChild(how, argv[2], script));
  }
  if (pid < 0) return 3;
  filemon_setpid_parent(F, pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 3;
  }
  while (filemon_process(F) > 0) {
  }
  if (filemon_close(F) != 0) return 3;
  if (!WIFEXITED(status)) return 3;
  if (fails) return WEXITSTATUS(status) == 127 ? 11 : 3;
  return WEXITSTATUS(status) == 0 ? 10 : 3;
}
