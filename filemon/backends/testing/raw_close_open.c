// Closes every descriptor from 3 up with an inline close_range system call, which no libc
// wrapper (and so no interposer) sees, then opens argv[1] and exits 0. An interposed process
// that lost its channel this way must reconnect to its own supervisor to report the open.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
#if defined(__x86_64__) && defined(SYS_close_range)
  long r;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(SYS_close_range), "D"(3), "S"(~0U), "d"(0)
                   : "rcx", "r11", "memory");
  (void)r;
#endif
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) return 3;
  close(fd);
  return 0;
}
