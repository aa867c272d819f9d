// A statically linked parent that leaves an orphan: forks, and returns 0 at once; the child
// waits 20 ms (so that its parent has exited and it has been reparented) and execs argv[1]
// with the remaining arguments. Under auto the parent is traced with ptrace by the hand-off
// helper while a dynamically linked program exec'd by the orphan is reaped by the supervisor.
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid = fork();
  if (pid < 0) return 3;
  if (pid == 0) {
    usleep(20 * 1000);
    execv(argv[1], argv + 1);
    _exit(127);
  }
  return 0;
}
