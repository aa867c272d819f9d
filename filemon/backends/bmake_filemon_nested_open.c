/* Test helper for bmake_filemon_test: a nested bmake's filemon calls, run under an enclosing
 * filemon trace. Usage: bmake_filemon_nested_open LOG FILE.
 *
 * Where the enclosing trace cannot hand its children over (ptrace: one tracer per process),
 * filemon_open must refuse with EBUSY: exit status 0. Where it can (preload, auto: FreeBSD's
 * rule, see bmake_filemon.h), the helper traces `cat FILE` into LOG the bmake way (vfork,
 * filemon_setpid_child, exec) and exits 10 once that worked. Any other outcome: 1 (opened
 * although it should refuse is decided by the test), 2 (refused otherwise), 3 (the nested
 * trace failed). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filemon/backends/bmake_filemon.h"

/* Under ptrace LeakSanitizer cannot work (--config=asan): the sanitizer's documented hook turns
 * it off. */
int __lsan_is_turned_off(void) { return 1; }

int main(int argc, char **argv) {
  if (argc != 3) return 2;
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
  pid_t pid = vfork();
  if (pid == 0) {
    if (filemon_setpid_child(F, getpid()) != 0) _exit(126);
    execl("/bin/cat", "cat", argv[2], (char *)NULL);
    _exit(127);
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
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 10 : 3;
}
