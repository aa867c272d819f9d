// long_exec MODE COUNT LENGTH PROGRAM: runs PROGRAM with COUNT arguments of LENGTH 'x's each and
// this process's environment, so that a test can put an exec made inside the traced tree at the
// kernel's limit on argv and environment. MODE "exec" execs PROGRAM (exit 127 if that fails);
// "fexecve" execs it through a descriptor (exit 127 if that fails); "spawn" runs it with
// posix_spawn and exits with its status (127 if the spawn fails).
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  const long count = atol(argv[2]), length = atol(argv[3]);
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
