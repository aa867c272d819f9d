// The kernel's own measure of one BPF program: with BPF run-time statistics on (held only while
// this program runs), runs COMMAND and prints "RUNS NS_PER_RUN" of program PROG_ID meanwhile,
// as the last line (after COMMAND's output).
// The figure counts the program's body and the statistics' two clock reads, not the dispatch
// around it. Needs root. Run by syscall_tax.sh.
//
// usage: bpf_run_time PROG_ID COMMAND [ARGS...]
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// The program's run count and total run time so far; 0 on success.
static int Sample(int prog_fd, unsigned long long* runs, unsigned long long* ns) {
  struct bpf_prog_info info;
  unsigned int size = sizeof(info);
  memset(&info, 0, sizeof(info));
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &size) != 0) return -1;
  *runs = info.run_cnt;
  *ns = info.run_time_ns;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bpf_run_time PROG_ID COMMAND [ARGS...]\n");
    return 2;
  }
  int prog_fd = bpf_prog_get_fd_by_id((unsigned int)strtoul(argv[1], NULL, 10));
  int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (prog_fd < 0 || stats_fd < 0) {
    perror("bpf_run_time: cannot open the program or enable statistics");
    return 1;
  }
  unsigned long long runs0, ns0, runs1, ns1;
  if (Sample(prog_fd, &runs0, &ns0) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || Sample(prog_fd, &runs1, &ns1) != 0) return 1;
  close(stats_fd);
  unsigned long long runs = runs1 - runs0;
  printf("%llu %.1f\n", runs, runs ? (double)(ns1 - ns0) / (double)runs : 0.0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
