/* bmake's filemon API driven from C in bmake's exact call order (meta.c, compat.c, job.c):
 * filemon_open, mkstemp + dup + FD_CLOEXEC + filemon_setfd, vfork, filemon_setpid_child in the
 * child before exec, filemon_setpid_parent, a select loop on filemon_readfd calling
 * filemon_process, waitpid, `while (filemon_process() > 0)`, filemon_close, then the log read
 * back from the start of the temporary file. Two commands run under one filemon, as in
 * bmake's compat mode (one filemon per target). Run once per backend that serves sessions
 * ($FILEMON_BACKEND, set by BUILD.bazel). A plain C program: exits 0 on success, prints what
 * failed otherwise. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filemon/backends/bmake_filemon.h"

static int failures = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* One command, the way bmake's compat mode runs it under an open filemon. Returns the pid. */
static pid_t run_command(struct filemon *F, const char *script) {
  pid_t pid = vfork();
  if (pid == 0) {
    if (filemon_setpid_child(F, getpid()) == -1) _exit(126);
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    _exit(127);
  }
  if (pid < 0) {
    perror("vfork");
    exit(1);
  }
  filemon_setpid_parent(F, pid);
  int metafd = filemon_readfd(F);
  while (metafd != -1) {
    fd_set readfds;
    FD_ZERO(&readfds);
    FD_SET(metafd, &readfds);
    int n = select(metafd + 1, &readfds, NULL, NULL, NULL);
    if (n == -1) {
      if (errno == EINTR) continue;
      perror("select");
      exit(1);
    }
    if (FD_ISSET(metafd, &readfds) && filemon_process(F) <= 0) metafd = -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) == -1) {
    if (errno != EINTR) {
      perror("waitpid");
      exit(1);
    }
  }
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: wait status %#x", script, status);
  return pid;
}

static char *read_log(int fd) {
  static char buf[1 << 20];
  size_t used = 0;
  ssize_t n;
  if (lseek(fd, 0, SEEK_SET) < 0) {
    perror("lseek");
    exit(1);
  }
  while ((n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0) used += (size_t)n;
  buf[used] = '\0';
  return buf;
}

static void expect_line(const char *log, const char *line) {
  char needle[4200];
  snprintf(needle, sizeof(needle), "\n%s\n", line);
  CHECK(strstr(log, needle) != NULL, "no line \"%s\" in the log", line);
}

/* True if some line starts with `prefix` and ends with `suffix` (any pid in between). */
static int has_line(const char *log, const char *prefix, const char *suffix) {
  for (const char *p = log; *p != '\0';) {
    const char *end = strchr(p, '\n');
    if (end == NULL) end = p + strlen(p);
    size_t n = (size_t)(end - p), np = strlen(prefix), ns = strlen(suffix);
    if (n >= np + ns && strncmp(p, prefix, np) == 0 && strncmp(end - ns, suffix, ns) == 0) {
      return 1;
    }
    p = *end != '\0' ? end + 1 : end;
  }
  return 0;
}

int main(void) {
  const char *tmp = getenv("TEST_TMPDIR");
  if (tmp == NULL) tmp = "/tmp";
  if (chdir(tmp) != 0) {
    perror("chdir");
    return 1;
  }
  FILE *in = fopen("in.txt", "w");
  fputs("hello\n", in);
  fclose(in);

  printf("filemon_path() = %s\n", filemon_path());
  const char *backend = getenv("FILEMON_BACKEND");
  if (backend != NULL && *backend != '\0') {
    CHECK(strcmp(filemon_path(), backend) == 0, "filemon_path() is not $FILEMON_BACKEND (%s)",
          backend);
  }
  struct filemon *F = filemon_open();
  if (F == NULL && errno == ENOSYS && backend != NULL && strcmp(backend, "ebpf") == 0) {
    /* The host refuses BPF (not root, Bazel's sandbox): filemon_open said why, on stderr. */
    printf("SKIPPED: the ebpf backend cannot run here\n");
    return 0;
  }
  if (F == NULL) {
    perror("filemon_open");
    return 1;
  }
  /* meta_open_filemon: a temporary file, a dup of it handed over, both close-on-exec. */
  char mon_path[4096];
  snprintf(mon_path, sizeof(mon_path), "%s/filemon.XXXXXX", tmp);
  int mon_fd = mkstemp(mon_path);
  if (mon_fd < 0) {
    perror("mkstemp");
    return 1;
  }
  unlink(mon_path);
  int dupfd = dup(mon_fd);
  fcntl(dupfd, F_SETFD, FD_CLOEXEC);
  if (filemon_setfd(F, dupfd) == -1) {
    perror("filemon_setfd");
    return 1;
  }
  fcntl(mon_fd, F_SETFD, FD_CLOEXEC);

  pid_t first = run_command(F, "cat in.txt > out.txt");
  pid_t second = run_command(F, "mv out.txt moved.txt && rm moved.txt");

  /* meta_cmd_finish */
  while (filemon_process(F) > 0) continue;
  if (filemon_close(F) == -1) {
    perror("filemon_close");
    ++failures;
  }
  const char *log = read_log(mon_fd);
  close(mon_fd);
  printf("%s", log);

  char line[4200];
  snprintf(line, sizeof(line), "# filemon version 5\n# Target pid %d\n# Start ", (int)getpid());
  CHECK(strncmp(log, line, strlen(line)) == 0, "the log does not start with the v5 header");
  expect_line(log, "V 5");
  snprintf(line, sizeof(line), "E %d /bin/sh", (int)first);
  expect_line(log, line);
  snprintf(line, sizeof(line), "W %d out.txt", (int)first);
  expect_line(log, line);
  snprintf(line, sizeof(line), "E %d /bin/sh", (int)second);
  expect_line(log, line);
  snprintf(line, sizeof(line), "X %d 0 0", (int)first);
  expect_line(log, line);
  snprintf(line, sizeof(line), "X %d 0 0", (int)second);
  expect_line(log, line);
  CHECK(has_line(log, "R ", " in.txt"), "no R record of cat's in.txt");
  CHECK(has_line(log, "M ", " 'out.txt' 'moved.txt'"), "no M record of mv's rename");
  CHECK(has_line(log, "D ", " moved.txt"), "no D record of rm's unlink");
  snprintf(line, sizeof(line), "F %d ", (int)second);
  CHECK(has_line(log, line, ""), "no F record of the second shell's children");
  const char *tail = "\n# Bye bye\n";
  size_t len = strlen(log);
  CHECK(len > strlen(tail) && strcmp(log + len - strlen(tail), tail) == 0,
        "the log does not end with the footer");
  CHECK(strstr(log, "\n# Stop ") != NULL, "no # Stop line");
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("PASS\n");
  return 0;
}
