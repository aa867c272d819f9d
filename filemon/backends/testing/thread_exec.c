// A non-leader thread calls execv(argv[1], argv + 1) while another thread sleeps: the kernel
// gives the exec'ing thread the process id and removes the other threads. The records must
// stay those of one process: E then the new program's records, under the same pid, one X.
#include <pthread.h>
#include <unistd.h>

static char** new_argv;

static void* Exec(void* unused) {
  execv(new_argv[0], new_argv);
  _exit(127);
}

static void* Sleep(void* unused) {
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  new_argv = argv + 1;
  pthread_t sleeper, execer;
  if (pthread_create(&sleeper, NULL, Sleep, NULL) != 0) return 3;
  if (pthread_create(&execer, NULL, Exec, NULL) != 0) return 3;
  for (;;) pause();
}
