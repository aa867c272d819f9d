// What a running ebpf trace costs the system calls of processes it does not trace: the time per
// call of three loops (getppid; open and close of a file; a failed open), each the minimum over
// many short batches, so that a batch that was preempted or interrupted does not count. One line:
// "GETPPID_NS OPEN_CLOSE_NS FAILED_OPEN_NS". Run by syscall_tax.sh.
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double NowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

enum Loop { kGetppid, kOpenClose, kFailedOpen };

// The least time per call of `batches` batches of `calls` calls each.
static double MinPerCall(enum Loop loop, int batches, int calls) {
  double best = 1e18;
  for (int b = 0; b < batches; ++b) {
    double start = NowNs();
    for (int i = 0; i < calls; ++i) {
      if (loop == kGetppid) {
        syscall(SYS_getppid);
      } else if (loop == kOpenClose) {
        close(open("/etc/passwd", O_RDONLY));
      } else {
        open("/nonexistent-dir/x", O_RDONLY);
      }
    }
    double per_call = (NowNs() - start) / calls;
    if (per_call < best) best = per_call;
  }
  return best;
}

int main(void) {
  printf("%.0f %.0f %.0f\n", MinPerCall(kGetppid, 5000, 100), MinPerCall(kOpenClose, 2000, 20),
         MinPerCall(kFailedOpen, 2000, 20));
  return 0;
}
