// What it costs a tracer to see one system call, per mechanism: a child makes CALLS readlink(2)
// calls of a directory (they fail with EINVAL, as a compiler's realpath does on every prefix)
// while its parent sees each through
//   untraced      nothing (the call alone)
//   ptrace-entry  a seccomp stop (SECCOMP_RET_TRACE), PTRACE_GET_SYSCALL_INFO, PTRACE_CONT
//   ptrace-exit   the same, then PTRACE_SYSCALL to the exit stop and PTRACE_GET_SYSCALL_INFO
//                 again (what the ptrace backend did for the stat family before it judged
//                 lookups at their entry)
//   notify        a seccomp user notification (SECCOMP_RET_USER_NOTIF) answered with
//                 SECCOMP_USER_NOTIF_FLAG_CONTINUE
//   notify-sync   the same with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): the waker hands
//                 its CPU over, as a synchronous wakeup
// Rounds interleave the modes; each line gives the median over the rounds of the CPU time
// (user + system, child and parent) and the wall time per call, and the CPU time per call above
// the untraced one. BENCHMARKS.md ("Tracing overhead", the ptrace --probes paragraph).
//
// usage: cc -O2 -o stop_cost benchmarks/stop_cost.c && ./stop_cost [CALLS [ROUNDS]]
//        (defaults 20000 and 5; Linux 6.6 for notify-sync, x86-64)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

enum Mode { kUntraced, kPtraceEntry, kPtraceExit, kNotify, kNotifySync, kModes };
static const char* const kNames[kModes] = {"untraced", "ptrace-entry", "ptrace-exit", "notify",
                                           "notify-sync"};

// readlink (x86-64: 89) returns `action`; everything else is allowed.
static int InstallFilter(unsigned action, unsigned flags) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_readlink, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static void Calls(long calls) {
  char buf[64];
  for (long i = 0; i < calls; ++i) {
    if (readlink("/usr", buf, sizeof buf) >= 0 || errno != EINVAL) _exit(3);
  }
}

static double Now(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double Cpu(void) {
  struct rusage self, children;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
                  children.ru_stime.tv_sec) +
         (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
                  children.ru_stime.tv_usec) *
             1e-6;
}

static int RunPtrace(long calls, int to_exit) {
  pid_t pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 || raise(SIGSTOP) != 0) _exit(2);
    if (InstallFilter(SECCOMP_RET_TRACE, 0) != 0) _exit(2);
    Calls(calls);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  ptrace(PTRACE_SETOPTIONS, pid, 0,
         PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
  ptrace(PTRACE_CONT, pid, 0, 0);
  struct __ptrace_syscall_info info;
  for (;;) {
    if (waitpid(pid, &status, 0) < 0) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    int resume = PTRACE_CONT;
    if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
      ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void*)sizeof(info), &info);
      if (to_exit) resume = PTRACE_SYSCALL;
    } else if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
      ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void*)sizeof(info), &info);
    }
    ptrace(resume, pid, 0, 0);
  }
}

static int RunNotify(long calls, int sync) {
  int report[2];
  if (pipe(report) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    int listener = InstallFilter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (write(report[1], &listener, sizeof listener) != sizeof listener || listener < 0) _exit(2);
    Calls(calls);
    _exit(0);
  }
  close(report[1]);
  int remote = -1;
  if (read(report[0], &remote, sizeof remote) != sizeof remote || remote < 0) return -1;
  close(report[0]);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int listener = (int)syscall(SYS_pidfd_getfd, pidfd, remote, 0);
  if (listener < 0) return -1;
  if (sync && ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)) {
    perror("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP");
  }
  struct seccomp_notif request;
  struct seccomp_notif_resp response;
  for (long i = 0; i < calls; ++i) {
    memset(&request, 0, sizeof request);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) != 0) return -1;
    memset(&response, 0, sizeof response);
    response.id = request.id;
    response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response) != 0) return -1;
  }
  int status;
  waitpid(pid, &status, 0);
  close(listener);
  close(pidfd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int Run(enum Mode mode, long calls) {
  switch (mode) {
    case kUntraced: {
      pid_t pid = fork();
      if (pid == 0) {
        Calls(calls);
        _exit(0);
      }
      int status;
      waitpid(pid, &status, 0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    case kPtraceEntry:
      return RunPtrace(calls, 0);
    case kPtraceExit:
      return RunPtrace(calls, 1);
    case kNotify:
      return RunNotify(calls, 0);
    case kNotifySync:
      return RunNotify(calls, 1);
    default:
      return -1;
  }
}

static int Compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double Median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(double), Compare);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char** argv) {
  long calls = argc > 1 ? atol(argv[1]) : 20000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (calls <= 0 || rounds <= 0 || rounds > 100) {
    fprintf(stderr, "usage: stop_cost [CALLS [ROUNDS]]\n");
    return 2;
  }
  double cpu[kModes][100], wall[kModes][100];
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < kModes; ++k) {
      enum Mode mode = (enum Mode)((k + r) % kModes);
      double c0 = Cpu(), w0 = Now(CLOCK_MONOTONIC);
      int status = Run(mode, calls);
      if (status != 0) {
        fprintf(stderr, "stop_cost: %s failed (%d)\n", kNames[mode], status);
        return 1;
      }
      cpu[mode][r] = (Cpu() - c0) / (double)calls * 1e6;
      wall[mode][r] = (Now(CLOCK_MONOTONIC) - w0) / (double)calls * 1e6;
    }
  }
  double base = Median(cpu[kUntraced], rounds);
  printf("%ld readlink calls, %d rounds: median per call\n", calls, rounds);
  printf("%-14s %10s %10s %14s\n", "mode", "CPU us", "wall us", "CPU us added");
  for (int m = 0; m < kModes; ++m) {
    double c = Median(cpu[m], rounds);
    printf("%-14s %10.2f %10.2f %14.2f\n", kNames[m], c, Median(wall[m], rounds), c - base);
  }
  return 0;
}
