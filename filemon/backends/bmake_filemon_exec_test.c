/* bmake's job mode through libbmake-filemon.so itself, whose execv makes the session's exec
 * hand-off without a signal (preload/preload_session_exec.cc): under auto, a statically linked
 * program that the caller execs with execv (the interposer cannot enter it) is handed to the
 * ptrace helper in place, and a dynamic one runs under the interposer; both logs hold the
 * program's own records. Linked with the shared library, so that the process's execv is the
 * library's, as in bmake. Argument: the static program (testing/static_open). */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filemon/backends/bmake_filemon.h"

static int failures = 0;

/* Runs argv[0] with execv from a vforked child under a filemon; returns the log. */
static char *traced_log(char *const argv[], int *status) {
  struct filemon *F = filemon_open();
  if (F == NULL) {
    perror("filemon_open");
    exit(1);
  }
  char path[] = "/tmp/bmake_filemon_exec_test.XXXXXX";
  int log = mkstemp(path);
  unlink(path);
  if (log < 0 || filemon_setfd(F, dup(log)) != 0) {
    perror("filemon_setfd");
    exit(1);
  }
  pid_t pid = vfork();
  if (pid == 0) {
    if (filemon_setpid_child(F, getpid()) == -1) _exit(126);
    execv(argv[0], argv);
    _exit(127);
  }
  filemon_setpid_parent(F, pid);
  waitpid(pid, status, 0);
  while (filemon_process(F) > 0) {
  }
  if (filemon_close(F) != 0) perror("filemon_close");
  static char text[65536];
  ssize_t n = pread(log, text, sizeof(text) - 1, 0);
  text[n > 0 ? n : 0] = '\0';
  close(log);
  return strdup(text);
}

static void expect(const char *log, const char *line, const char *what) {
  if (strstr(log, line) == NULL) {
    fprintf(stderr, "%s: no \"%s\" in the log:\n%s\n", what, line, log);
    ++failures;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char dir[] = "/tmp/bmake_filemon_exec_test.dir.XXXXXX";
  if (mkdtemp(dir) == NULL) return 2;
  char in[256], out[256], line[512];
  snprintf(in, sizeof(in), "%s/in", dir);
  snprintf(out, sizeof(out), "%s/out", dir);
  FILE *f = fopen(in, "w");
  fputs("x\n", f);
  fclose(f);

  char *static_argv[] = {argv[1], in, out, NULL};
  int status = -1;
  char *log = traced_log(static_argv, &status);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "the static program failed: status %d\n", status);
    ++failures;
  }
  snprintf(line, sizeof(line), " %s\n", in);
  expect(log, line, "the static program's read");
  free(log);

  char *cat_argv[] = {"/bin/cat", in, NULL};
  log = traced_log(cat_argv, &status);
  expect(log, line, "cat's read");
  free(log);

  unlink(in);
  unlink(out);
  rmdir(dir);
  if (failures != 0) return 1;
  printf("ok\n");
  return 0;
}
