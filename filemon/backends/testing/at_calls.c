// The *at() calls with a real directory fd, in directory argv[1] (which must exist, empty):
//   openat(d, "f", O_WRONLY|O_CREAT)  -> A then W DIR/f
//   openat(d, "f", O_RDWR)            -> A then R DIR/f, W DIR/f
//   openat(d, "missing", O_RDONLY)    -> fails: nothing
//   renameat2(d, "f", d, "g", 0)      -> M 'DIR/f' 'DIR/g'
//   linkat(d, "g", d, "h", 0)         -> L 'DIR/g' 'DIR/h'
//   symlinkat("g", d, "s")            -> L 'g' 'DIR/s'
//   unlinkat(d, "h", 0), unlinkat(d, "s", 0)
//   mkdirat(d, "sub") + unlinkat(d, "sub", AT_REMOVEDIR)
//   renameat(d, "g", AT_FDCWD, argv[1]/"k")
//   execveat(fd of /bin, "true")      -> E <realpath of /bin>/true
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int d = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (d < 0) return 3;
  int fd = openat(d, "f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 4;
  close(fd);
  fd = openat(d, "f", O_RDWR);
  if (fd < 0) return 5;
  close(fd);
  if (openat(d, "missing", O_RDONLY) >= 0) return 6;
  if (syscall(SYS_renameat2, d, "f", d, "g", 0) != 0) return 7;
  if (linkat(d, "g", d, "h", 0) != 0) return 8;
  if (symlinkat("g", d, "s") != 0) return 9;
  if (unlinkat(d, "h", 0) != 0 || unlinkat(d, "s", 0) != 0) return 10;
  if (mkdirat(d, "sub", 0755) != 0 || unlinkat(d, "sub", AT_REMOVEDIR) != 0) return 11;
  char k[4096];
  snprintf(k, sizeof(k), "%s/k", argv[1]);
  if (renameat(d, "g", AT_FDCWD, k) != 0) return 12;
  int bin = open("/bin", O_RDONLY | O_DIRECTORY);
  char* true_argv[] = {"true", NULL};
  syscall(SYS_execveat, bin, "true", true_argv, environ, 0);
  return 13;
}
