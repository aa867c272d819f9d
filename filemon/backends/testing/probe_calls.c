// Lookups of absent paths, for the probes (`N`) of TraceOptions::probes. In directory argv[1],
// which holds a regular file `file`, a directory `sub`, and `bin2/tool` (an executable) but no
// `bin1/tool`; every lookup below of a name not listed fails with ENOENT or ENOTDIR:
//   stat("st") twice                 -> one N st (once per process and path)
//   lstat, access, readlink          -> N ls, N ac, N rl
//   fstatat, faccessat, readlinkat   -> N DIR/sub/fsa, DIR/sub/faa, DIR/sub/rla (dirfd prefix)
//   statx(AT_FDCWD, "sx")            -> N sx
//   open("op", O_RDONLY)             -> N op
//   openat(sub, "oa", O_RDONLY)      -> N DIR/sub/oa
//   open("file/x", O_RDONLY)         -> N file/x (ENOTDIR)
//   open("nodir/x", O_CREAT)         -> fails, but creates: no N
//   stat("file"), fstat(file)        -> succeed: no N
//   execvp("tool") with PATH=DIR/bin1:DIR/bin2 in a child -> N DIR/bin1/tool, E DIR/bin2/tool
//   posix_spawnp("tool") with the same PATH   -> the same in the spawned child
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2 || chdir(argv[1]) != 0) return 2;
  int sub = open("sub", O_RDONLY | O_DIRECTORY);
  if (sub < 0) return 3;
  struct stat st;
  char buf[64];
  if (stat("st", &st) == 0 || stat("st", &st) == 0 || lstat("ls", &st) == 0) return 4;
  if (access("ac", R_OK) == 0 || readlink("rl", buf, sizeof buf) >= 0) return 5;
  if (fstatat(sub, "fsa", &st, 0) == 0 || faccessat(sub, "faa", R_OK, 0) == 0) return 6;
  if (readlinkat(sub, "rla", buf, sizeof buf) >= 0) return 7;
  struct statx stx;
  if (statx(AT_FDCWD, "sx", 0, STATX_BASIC_STATS, &stx) == 0) return 8;
  if (open("op", O_RDONLY) >= 0 || openat(sub, "oa", O_RDONLY) >= 0) return 9;
  if (open("file/x", O_RDONLY) >= 0 || open("nodir/x", O_WRONLY | O_CREAT, 0644) >= 0) return 10;
  int fd = open("file", O_RDONLY);
  if (fd < 0 || fstat(fd, &st) != 0 || stat("file", &st) != 0) return 11;
  char path[4096];
  strcpy(path, argv[1]);
  strcat(path, "/bin1:");
  strcat(path, argv[1]);
  strcat(path, "/bin2");
  pid_t pid = fork();
  if (pid == 0) {
    setenv("PATH", path, 1);
    execlp("tool", "tool", (char*)0);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 12;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 13;
  setenv("PATH", path, 1);
  char* spawn_argv[] = {"tool", (char*)0};
  if (posix_spawnp(&pid, "tool", NULL, NULL, spawn_argv, environ) != 0) return 14;
  if (waitpid(pid, &status, 0) != pid) return 15;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 16;
}
