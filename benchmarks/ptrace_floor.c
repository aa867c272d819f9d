// The floor for any seccomp+ptrace tracer, as the issue defines it: a bare-bones loop that
// stops at the entry (seccomp) and the exit of each filtered call, follows every child, and
// writes a bare record per stop (syscall number or result, pid) without reading any path.
// trace_overhead.sh times it next to filemon as the "floor" variant. With --stat-entry it also
// stops at the entry of every call of the stat family that names a path (as ptrace --probes
// must: a filter cannot read the path), and resumes it at once, without its exit stop: the least
// --probes can add, on the traced program itself (probe_floor.sh).
//
// usage: ptrace_floor [--stat-entry] LOG COMMAND [ARGS...]
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
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

// The x86-64 calls filemon traces (open openat openat2 creat chdir fchdir rename renameat
// renameat2 link linkat symlink symlinkat unlink unlinkat rmdir execve execveat).
static const unsigned kCalls[] = {2,  257, 437, 85, 80, 81, 82, 264, 316,
                                  86, 265, 88,  266, 87, 263, 84, 59, 322};
#define NCALLS (sizeof(kCalls) / sizeof(kCalls[0]))

// The stat family (stat lstat access readlink faccessat faccessat2 readlinkat, then newfstatat
// and statx, which name a descriptor instead of a path with AT_EMPTY_PATH in their flags,
// arguments 3 and 2).
static const unsigned kStatCalls[] = {4, 6, 21, 89, 269, 439, 267};
#define NSTAT (sizeof(kStatCalls) / sizeof(kStatCalls[0]))
static const unsigned kStatAtCalls[][2] = {{262, 3}, {332, 2}};
#define NSTATAT (sizeof(kStatAtCalls) / sizeof(kStatAtCalls[0]))
#define kAtEmptyPath 0x1000

static int IsStatCall(unsigned long long nr) {
  for (unsigned i = 0; i < NSTAT; ++i) {
    if (nr == kStatCalls[i]) return 1;
  }
  return nr == kStatAtCalls[0][0] || nr == kStatAtCalls[1][0];
}

static void Child(char** argv, int stat_entry) {
  struct sock_filter f[5 + 2 * NCALLS + 2 * NSTAT + 5 * NSTATAT];
  unsigned n = 0;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (unsigned i = 0; i < NCALLS; ++i) {
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kCalls[i], 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
  }
  for (unsigned i = 0; stat_entry && i < NSTAT; ++i) {
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kStatCalls[i], 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
  }
  for (unsigned i = 0; stat_entry && i < NSTATAT; ++i) {
    const unsigned flags = offsetof(struct seccomp_data, args) + 8 * kStatAtCalls[i][1];
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kStatAtCalls[i][0], 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, flags);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kAtEmptyPath, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
  }
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {(unsigned short)n, f};
  if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(126);
  raise(SIGSTOP);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(126);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(126);
  execvp(argv[0], argv);
  _exit(127);
}

int main(int argc, char** argv) {
  const int stat_entry = argc > 1 && strcmp(argv[1], "--stat-entry") == 0;
  argc -= stat_entry;
  argv += stat_entry;
  if (argc < 3) {
    fprintf(stderr, "usage: ptrace_floor [--stat-entry] LOG COMMAND [ARGS...]\n");
    return 2;
  }
  FILE* log = fopen(argv[1], "w");
  if (log == NULL) return 2;
  pid_t root = fork();
  if (root == 0) Child(argv + 2, stat_entry);
  int status;
  if (waitpid(root, &status, 0) != root || !WIFSTOPPED(status)) return 125;
  ptrace(PTRACE_SETOPTIONS, root, 0,
         PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK |
             PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
             PTRACE_O_EXITKILL);
  ptrace(PTRACE_CONT, root, 0, 0);
  static unsigned char fresh[1 << 22];  // pids whose first SIGSTOP is the auto-attach stop
  int live = 1, result = 0;
  while (live > 0) {
    pid_t pid = waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      --live;
      fprintf(log, "X %d\n", pid);
      if (pid == root) result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      continue;
    }
    int sig = WSTOPSIG(status), event = (unsigned)status >> 16;
    struct user_regs_struct regs;
    if (sig == (SIGTRAP | 0x80)) {
      ptrace(PTRACE_GETREGS, pid, 0, &regs);
      fprintf(log, "= %d %lld\n", pid, (long long)regs.rax);
      ptrace(PTRACE_CONT, pid, 0, 0);
    } else if (event == PTRACE_EVENT_SECCOMP) {
      ptrace(PTRACE_GETREGS, pid, 0, &regs);
      fprintf(log, "> %d %lld\n", pid, (long long)regs.orig_rax);
      ptrace(IsStatCall(regs.orig_rax) ? PTRACE_CONT : PTRACE_SYSCALL, pid, 0, 0);
    } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
               event == PTRACE_EVENT_CLONE) {
      unsigned long child;
      ptrace(PTRACE_GETEVENTMSG, pid, 0, &child);
      if (child < sizeof(fresh)) fresh[child] = 1;
      ++live;
      ptrace(PTRACE_CONT, pid, 0, 0);
    } else if (event != 0) {
      ptrace(PTRACE_CONT, pid, 0, 0);
    } else if (sig == SIGSTOP && pid < (pid_t)sizeof(fresh) && fresh[pid]) {
      fresh[pid] = 0;
      ptrace(PTRACE_CONT, pid, 0, 0);
    } else {
      ptrace(PTRACE_CONT, pid, 0, sig);
    }
  }
  fclose(log);
  return result;
}
