// Spawns whose exec fails with ENOENT, for the probes (`N`) of TraceOptions::probes. In
// directory argv[1], which holds `script` (a `#!` script of an absent interpreter),
// `bin1/tool` (the same script) and `bin2/tool` (an executable), but no `absent`:
//   posix_spawn("./script")                     -> fails: N ./script
//   posix_spawn("./absent")                     -> fails: N ./absent
//   posix_spawnp("tool"), PATH=DIR/bin1:DIR/bin2 -> N DIR/bin1/tool, E DIR/bin2/tool
//   posix_spawnp("gone"), the same PATH         -> fails: N DIR/bin1/gone, N DIR/bin2/gone
// Exits 0 when every spawn did what the list says (2: a usage error, said on stderr). With a
// second argument, only:
//   static   posix_spawnp("tool", "in", "out"), PATH=DIR/bin1:DIR/bin2 -> exits 0, where
//            bin2/tool is a statically linked program that copies `in` to `out` (static_open.c)
//   actions  posix_spawn("/bin/true") with the file actions: open `made` (O_CREAT), then open
//            `absent/x` -> fails with ENOENT in glibc's child after it created `made`
//   nomem    posix_spawn("/bin/true") with the file action: open `made` (O_CREAT), under an
//            address-space limit just above what the process uses -> fails with ENOMEM before
//            glibc creates a child (it cannot map the child's stack): no `made`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int Spawn(int search, const char* program) {
  char* argv[] = {(char*)program, "in", "out", NULL};
  pid_t pid = 0;
  int rc = search ? posix_spawnp(&pid, program, NULL, NULL, argv, environ)
                  : posix_spawn(&pid, program, NULL, NULL, argv, environ);
  int status = 0;
  if (rc == 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))) return -1;
  return rc == 0 ? WEXITSTATUS(status) : rc;
}

// Grows the stack once, so that the calls below need no new stack pages under the limit.
static __attribute__((noinline)) void TouchStack(void) {
  volatile char pad[1 << 18];
  memset((char*)pad, 1, sizeof pad);
}

// posix_spawn of /bin/true (the action: open `made` with O_CREAT) with the address space limited
// to what the process maps now and a page more. Returns posix_spawn's result.
static int SpawnWithoutMemory(void) {
  TouchStack();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 5, "made", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char* spawn_argv[] = {"true", NULL};
  FILE* statm = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (statm == NULL || fscanf(statm, "%lu", &pages) != 1) return -1;
  fclose(statm);
  struct rlimit before, limited;
  if (getrlimit(RLIMIT_AS, &before) != 0) return -1;
  limited = before;
  limited.rlim_cur = (pages + 1) * (unsigned long)sysconf(_SC_PAGESIZE);
  if (setrlimit(RLIMIT_AS, &limited) != 0) return -1;
  pid_t pid;
  const int rc = posix_spawn(&pid, "/bin/true", &actions, NULL, spawn_argv, environ);
  setrlimit(RLIMIT_AS, &before);
  return rc;
}

int main(int argc, char** argv) {
  const char* mode = argc == 3 ? argv[2] : "";
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: probe_spawn DIR [static|actions|nomem]\n");
    return 2;
  }
  if (argc == 3 && strcmp(mode, "static") != 0 && strcmp(mode, "actions") != 0 &&
      strcmp(mode, "nomem") != 0) {
    fprintf(stderr, "probe_spawn: unknown mode '%s' (static, actions or nomem)\n", mode);
    return 2;
  }
  if (chdir(argv[1]) != 0) {
    fprintf(stderr, "probe_spawn: chdir(%s): %s\n", argv[1], strerror(errno));
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/bin1:%s/bin2", argv[1], argv[1]);
  if (strcmp(mode, "static") == 0) {
    setenv("PATH", path, 1);
    return Spawn(1, "tool") == 0 ? 0 : 6;
  }
  if (strcmp(mode, "nomem") == 0) {
    const int rc = SpawnWithoutMemory();
    if (rc != ENOMEM) return rc == 0 ? 8 : 9;
    return access("made", F_OK) != 0 ? 0 : 10;
  }
  if (strcmp(mode, "actions") == 0) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 5, "made", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 6, "absent/x", O_RDONLY, 0);
    char* spawn_argv[] = {"true", NULL};
    pid_t pid;
    return posix_spawn(&pid, "/bin/true", &actions, NULL, spawn_argv, environ) == ENOENT ? 0 : 7;
  }
  if (Spawn(0, "./script") != ENOENT || Spawn(0, "./absent") != ENOENT) return 3;
  setenv("PATH", path, 1);
  if (Spawn(1, "tool") != 0) return 4;
  if (Spawn(1, "gone") != ENOENT) return 5;
  return 0;
}
