// raw_exec PROGRAM: execs PROGRAM with an empty environment through the execve system call
// itself, not libc's function (no LD_PRELOAD interposer sees it), so PROGRAM starts without
// LD_PRELOAD. Exits 77 where this file has no system call instruction for the architecture.
#include <stddef.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char* args[] = {argv[1], NULL};
  char* env[] = {NULL};
#if defined(__x86_64__)
  long rc;
  __asm__ volatile("syscall"
                   : "=a"(rc)
                   : "a"(59L), "D"(argv[1]), "S"(args), "d"(env)
                   : "rcx", "r11", "memory");
  return 127;
#else
  (void)args;
  (void)env;
  return 77;
#endif
}
