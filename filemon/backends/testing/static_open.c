// A statically linked program (no dynamic loader, no libc.so reads): reads argv[1], writes
// argv[2]. Its records show that tracing does not depend on the dynamic loader.
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  char buf[256];
  int in = open(argv[1], O_RDONLY);
  if (in < 0) return 3;
  ssize_t n = read(in, buf, sizeof(buf));
  close(in);
  int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) return 4;
  if (n > 0 && write(out, buf, (size_t)n) != n) return 5;
  close(out);
  return 0;
}
