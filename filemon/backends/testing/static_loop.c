// A statically linked program that keeps making records: writes its pid to argv[1], then opens
// argv[2] every 50 ms, 100 times (5 s), then creates argv[3]. With argv[2] "-" it makes no
// record in between: it only sleeps.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  char pid[32];
  int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
  int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0 || write(out, pid, (size_t)n) != n) return 3;
  close(out);
  for (int i = 0; i < 100; ++i) {
    int fd = strcmp(argv[2], "-") == 0 ? -1 : open(argv[2], O_RDONLY);
    if (fd >= 0) close(fd);
    usleep(50 * 1000);
  }
  out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) return 4;
  close(out);
  return 0;
}
