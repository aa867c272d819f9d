// Creates children the ways that share the parent's memory: posix_spawn (glibc: clone with
// CLONE_VM|CLONE_VFORK) and vfork; each child execs argv[1] with argv[2] as its argument.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  char* child_argv[] = {argv[1], argv[2], NULL};
  pid_t pid;
  if (posix_spawn(&pid, argv[1], NULL, NULL, child_argv, environ) != 0) return 3;
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
  pid = vfork();
  if (pid == 0) {
    execve(argv[1], child_argv, environ);
    _exit(127);
  }
  if (pid < 0) return 5;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 6;
  return 0;
}
