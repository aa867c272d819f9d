// Relative paths that start with "./" or are ".": opens DIR (argv[1]) as a directory fd, then
// openat(fd, "./f"), openat(fd, "."), and after chdir(DIR) open("./f"). DIR/f must exist.
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (dir < 0) return 3;
  int fd = openat(dir, "./f", O_RDONLY);
  if (fd < 0) return 4;
  close(fd);
  fd = openat(dir, ".", O_RDONLY | O_DIRECTORY);
  if (fd < 0) return 5;
  close(fd);
  if (chdir(argv[1]) != 0) return 6;
  fd = open("./f", O_RDONLY);
  if (fd < 0) return 7;
  close(fd);
  return 0;
}
