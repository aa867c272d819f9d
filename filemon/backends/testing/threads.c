// A multi-threaded program: argv[2] threads each create argv[1]/thread<i>, and the main thread
// reads them all back after joining. Records must carry the process id, never a thread id.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char* dir;

static void* Work(void* arg) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/thread%ld", dir, (long)arg);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return (void*)1;
  close(fd);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  dir = argv[1];
  long n = atol(argv[2]);
  pthread_t threads[64];
  if (n < 1 || n > 64) return 2;
  for (long i = 0; i < n; ++i) {
    if (pthread_create(&threads[i], NULL, Work, (void*)i) != 0) return 3;
  }
  for (long i = 0; i < n; ++i) {
    void* result;
    pthread_join(threads[i], &result);
    if (result != NULL) return 4;
  }
  for (long i = 0; i < n; ++i) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/thread%ld", dir, i);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 5;
    close(fd);
  }
  return 0;
}
