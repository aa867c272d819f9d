// session_overhead: what one traced command costs a bmake-like caller of the filemon API
// (filemon/backends/bmake_filemon.h), measured in pairs.
//
// usage: session_overhead ROUNDS [--only untraced|session] -- PROGRAM [ARGS...]
//
// Each round runs PROGRAM (an absolute path) twice, in alternating order: once untraced and
// once under a filemon session, each the way bmake's job mode starts a command (vfork; in the
// child: the filemon call, bmake's signal resets, dup2s and setpgid, then execv; in the parent:
// waitpid). The traced run does what meta.c does around it: filemon_open, mkstemp + unlink,
// filemon_setfd, filemon_setpid_parent, filemon_process until done, filemon_close, and the log
// read back. CPU is user + system time of this process (every thread: the session's
// supervisor included) and of its reaped children, per round; the report is the median of the
// paired differences (traced minus untraced), which cancels the drift of a shared machine, and
// the same median for each of three parts: the calling thread (the API's calls and the
// caller's own), the process's other threads (the session's supervisor), and the children
// (the command, its start with the interposer, and the child's steps before its exec).
// `--only` runs one variant ROUNDS times and prints nothing, for a counter wrapped around it
// (`perf stat`'s context switches, `perf trace -s`'s system calls per thread).
// Link with libbmake-filemon.so (benchmarks/session_overhead.sh does).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filemon/backends/bmake_filemon.h"

// User + system time of `who` (RUSAGE_SELF, RUSAGE_THREAD, RUSAGE_CHILDREN) in microseconds.
static double UsageUs(int who) {
  struct rusage u;
  getrusage(who, &u);
  return u.ru_utime.tv_sec * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_sec * 1e6 +
         u.ru_stime.tv_usec;
}

static double CpuUs(void) { return UsageUs(RUSAGE_SELF) + UsageUs(RUSAGE_CHILDREN); }

static double NowUs(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

// The child's part of bmake's JobExec between vfork and exec (job.c): the filemon call, the
// signal dispositions reset, the descriptors placed, its own process group.
static void ChildSteps(struct filemon* F, char** argv) {
  if (F != NULL && filemon_setpid_child(F, getpid()) == -1) _exit(126);
  static const int kSignals[] = {SIGINT,  SIGHUP,  SIGQUIT,  SIGTERM, SIGTSTP,
                                 SIGTTOU, SIGTTIN, SIGWINCH, SIGCHLD};
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) {
    sigaction(kSignals[i], &dfl, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    close(null);
  }
  fcntl(1, F_SETFD, 0);
  setpgid(0, getpid());
  execv(argv[0], argv);
  _exit(127);
}

static int Run(char** argv, int traced) {
  struct filemon* F = NULL;
  int log = -1;
  if (traced) {
    F = filemon_open();
    if (F == NULL) {
      perror("filemon_open");
      return -1;
    }
    char path[] = "/tmp/session_overhead.XXXXXX";
    log = mkstemp(path);
    if (log < 0) return -1;
    unlink(path);
    if (filemon_setfd(F, dup(log)) != 0) {
      perror("filemon_setfd");
      return -1;
    }
  }
  pid_t pid = vfork();
  if (pid == 0) ChildSteps(F, argv);
  if (pid < 0) return -1;
  if (F != NULL) filemon_setpid_parent(F, pid);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (F != NULL) {
    while (filemon_process(F) > 0) {
    }
    if (filemon_close(F) != 0) perror("filemon_close");
    char buf[8192];
    lseek(log, 0, SEEK_SET);
    ssize_t n, total = 0;
    while ((n = read(log, buf, sizeof(buf))) > 0) total += n;
    close(log);
    if (total == 0) {
      fprintf(stderr, "session_overhead: empty log\n");
      return -1;
    }
  }
  return 0;
}

static int CompareDoubles(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double Median(double* v, int n) {
  qsort(v, n, sizeof(double), CompareDoubles);
  return v[n / 2];
}

int main(int argc, char** argv) {
  int only = -1;  // both variants
  int first = 2;
  if (argc > 3 && strcmp(argv[2], "--only") == 0) {
    only = strcmp(argv[3], "session") == 0 ? 1 : strcmp(argv[3], "untraced") == 0 ? 0 : -2;
    first = 4;
  }
  if (only == -2 || argc < first + 2 || strcmp(argv[first], "--") != 0 ||
      argv[first + 1][0] != '/') {
    fprintf(stderr,
            "usage: session_overhead ROUNDS [--only untraced|session] -- /ABSOLUTE/PROGRAM "
            "[ARGS...]\n");
    return 2;
  }
  const int rounds = atoi(argv[1]);
  if (rounds <= 0) return 2;
  char** program = argv + first + 1;
  if (only >= 0) {
    for (int r = 0; r < rounds; ++r) {
      if (Run(program, only) != 0) return 1;
    }
    return 0;
  }
  double* cpu[2];
  double* wall[2];
  double* diff = calloc(rounds, sizeof(double));
  // Paired differences of the parts: the calling thread, the other threads, the children.
  enum { kParts = 3 };
  static const int kWho[kParts] = {RUSAGE_THREAD, RUSAGE_SELF, RUSAGE_CHILDREN};
  static const char* const kPartNames[kParts] = {"calling thread", "other threads", "children"};
  double* part_diff[kParts];
  for (int p = 0; p < kParts; ++p) part_diff[p] = calloc(rounds, sizeof(double));
  for (int v = 0; v < 2; ++v) {
    cpu[v] = calloc(rounds, sizeof(double));
    wall[v] = calloc(rounds, sizeof(double));
  }
  for (int i = 0; i < 3; ++i) {  // warm up: the shared supervisor, the page cache
    if (Run(program, 1) != 0 || Run(program, 0) != 0) return 1;
  }
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const int traced = (r + k) % 2;
      double p0[kParts];
      for (int p = 0; p < kParts; ++p) p0[p] = UsageUs(kWho[p]);
      const double c0 = CpuUs(), w0 = NowUs();
      if (Run(program, traced) != 0) return 1;
      cpu[traced][r] = CpuUs() - c0;
      wall[traced][r] = NowUs() - w0;
      double used[kParts];
      for (int p = 0; p < kParts; ++p) used[p] = UsageUs(kWho[p]) - p0[p];
      used[1] -= used[0];  // the process less its calling thread
      for (int p = 0; p < kParts; ++p) part_diff[p][r] += traced ? used[p] : -used[p];
    }
    diff[r] = cpu[1][r] - cpu[0][r];
  }
  printf("%-10s %12s %12s\n", "variant", "cpu_us", "wall_us");
  const char* names[] = {"untraced", "session"};
  for (int v = 0; v < 2; ++v) {
    printf("%-10s %12.0f %12.0f\n", names[v], Median(cpu[v], rounds), Median(wall[v], rounds));
  }
  printf("session - untraced, median of %d paired CPU differences: %.0f us (backend %s)\n", rounds,
         Median(diff, rounds), filemon_path());
  for (int p = 0; p < kParts; ++p) {
    printf("  %-15s %6.0f us (median of its paired differences)\n", kPartNames[p],
           Median(part_diff[p], rounds));
  }
  return 0;
}
