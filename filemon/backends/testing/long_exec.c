// long_exec MODE COUNT LENGTH PROGRAM: runs PROGRAM with COUNT arguments of LENGTH 'x's each and
// this process's environment, so that a test can put an exec made inside the traced tree at the
// kernel's limit on argv and environment. MODE "exec" execs PROGRAM (exit 127 if that fails);
// "fexecve" execs it through a descriptor (exit 127 if that fails); "spawn" runs it with
// posix_spawn and exits with its status (127 if the spawn fails). "system" and "popen" put
// COUNT entries LE=<LENGTH 'x's> in the environment instead (and, given PAD, one entry of PAD
// 'x's more, to reach the limit to the byte), run PROGRAM (a shell command) with system(3) or
// popen(3), and exit with its status (127 if the shell did not start).
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) return 2;
  const long count = atol(argv[2]), length = atol(argv[3]);
  const long pad = argc == 6 ? atol(argv[5]) : -1;
  if (count < 0 || length < 0) return 2;
  char* arg = malloc((size_t)length + 1);
  char** args = malloc(((size_t)count + 2) * sizeof(char*));
  if (arg == NULL || args == NULL) return 2;
  memset(arg, 'x', (size_t)length);
  arg[length] = '\0';
  args[0] = argv[4];
  for (long i = 1; i <= count; ++i) args[i] = arg;
  args[count + 1] = NULL;
  if (strcmp(argv[1], "exec") == 0) {
    execve(argv[4], args, environ);
    return 127;
  }
  if (strcmp(argv[1], "system") == 0 || strcmp(argv[1], "popen") == 0) {
    // One entry COUNT times: the kernel counts each copy, and setenv would take quadratic time.
    char* entry = malloc((size_t)length + 4);
    size_t old = 0;
    while (environ[old] != NULL) ++old;
    char** env = malloc((old + (size_t)count + 2) * sizeof(char*));
    char* padding = malloc(pad > 0 ? (size_t)pad + 4 : 4);
    if (entry == NULL || env == NULL || padding == NULL) return 2;
    memcpy(entry, "LE=", 3);
    memcpy(entry + 3, arg, (size_t)length + 1);
    memcpy(env, environ, old * sizeof(char*));
    for (long i = 0; i < count; ++i) env[old + (size_t)i] = entry;
    size_t n = old + (size_t)count;
    if (pad >= 0) {
      memcpy(padding, "LP=", 3);
      memset(padding + 3, 'x', (size_t)pad);
      padding[3 + pad] = '\0';
      env[n++] = padding;
    }
    env[n] = NULL;
    environ = env;
    int status = -1;
    if (strcmp(argv[1], "system") == 0) {
      status = system(argv[4]);
    } else {
      FILE* out = popen(argv[4], "r");
      if (out == NULL) return 127;
      status = pclose(out);
    }
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 3;
  }
  if (strcmp(argv[1], "fexecve") == 0) {
    const int fd = open(argv[4], O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fexecve(fd, args, environ);
    return 127;
  }
  pid_t pid;
  if (posix_spawn(&pid, argv[4], NULL, NULL, args, environ) != 0) return 127;
  int status;
  if (waitpid(pid, &status, 0) != pid) return 3;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
