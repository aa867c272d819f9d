// Many opens from many threads at once: argv[2] threads each open argv[1] argv[3] times (and
// close it). A stress for backends whose records travel through a bounded buffer.
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static const char* path;
static long opens;

static void* Work(void* arg) {
  (void)arg;
  for (long i = 0; i < opens; ++i) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return (void*)1;
    close(fd);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  path = argv[1];
  long n = atol(argv[2]);
  opens = atol(argv[3]);
  pthread_t threads[64];
  if (n < 1 || n > 64 || opens < 0) return 2;
  for (long i = 0; i < n; ++i) {
    if (pthread_create(&threads[i], NULL, Work, NULL) != 0) return 3;
  }
  int failed = 0;
  for (long i = 0; i < n; ++i) {
    void* result;
    pthread_join(threads[i], &result);
    if (result != NULL) failed = 1;
  }
  return failed;
}
