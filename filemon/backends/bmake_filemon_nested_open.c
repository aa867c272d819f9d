/* Test helper for bmake_filemon_test: run under an enclosing filemon trace, filemon_open must
 * refuse (ptrace gives a process one tracer) with EBUSY. Exit status: 0 if it refused so, 1 if
 * it opened, 2 if it failed otherwise. */

#include <errno.h>
#include <stdio.h>

#include "filemon/backends/bmake_filemon.h"

/* This program always runs under ptrace, where LeakSanitizer cannot work (--config=asan): the
 * sanitizer's documented hook turns it off. */
int __lsan_is_turned_off(void) { return 1; }

int main(void) {
  struct filemon *F = filemon_open();
  if (F != NULL) {
    filemon_close(F);
    return 1;
  }
  if (errno != EBUSY) {
    perror("filemon_open");
    return 2;
  }
  return 0;
}
