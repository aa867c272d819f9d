// call_results MODE DIR: calls whose results a tracer must leave as the kernel and libc give
// them, checked by the program itself. Exits 0 when every call returned what it returns
// untraced, else the line number of the first check that failed (and says which on stderr).
//   faults  calls given a pointer the kernel cannot read or write (a PROT_NONE page) fail with
//           EFAULT and nothing crashes: raw openat2 with a bad struct open_how or a bad path,
//           raw clone3 with bad arguments, open, execve (libc and raw), unlink, rename,
//           chdir, stat and access with a bad path, and the reaping of an exited child into a
//           bad status (waitpid, wait4, raw wait4)
//   execfaults  the exec and spawn calls given an environment (envp, or one of its strings), a
//           path or an argv the kernel cannot read fail as untraced (EFAULT; posix_spawn and
//           posix_spawnp return it), fexecve and execveat with a bad descriptor or flags fail
//           with glibc's and the kernel's errno; every program named would exit non-zero if
//           it ran. With a third argument, a statically linked program, the same for it (auto
//           hands such a program to its ptrace helper)
//   nohang  waitpid, wait4 and raw wait4 with WNOHANG of a running child return 0 and leave
//           the status word as it was
//   errno   failed calls leave the errno their failure set (ENOENT, ENOTDIR, EBADF, EEXIST,
//           ECHILD, ENOTEMPTY...), and successful ones leave errno as it was before them
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "call_results:%d: %s (errno %d)\n", __LINE__, #cond, errno); \
      return __LINE__ % 250 + 1;                                                   \
    }                                                                              \
  } while (0)

// The call failed with `error`.
#define FAILS_WITH(call, error) CHECK((call) == -1 && errno == (error))

// A call that succeeds leaves errno at the value set before it.
#define KEEPS_ERRNO(call) \
  do {                    \
    errno = 4321;         \
    CHECK((call) >= 0);   \
    CHECK(errno == 4321); \
  } while (0)

static const char* dir;

// DIR/name, in one of two buffers used in turn (a call may take two paths).
static const char* In(const char* name) {
  static char buffers[2][4096];
  static int next;
  char* path = buffers[next++ % 2];
  snprintf(path, sizeof(buffers[0]), "%s/%s", dir, name);
  return path;
}

static pid_t ExitedChild(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(3);
  // Exited but not reaped once this returns: waitid with WNOWAIT waits without reaping.
  siginfo_t info;
  if (pid > 0) waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT);
  return pid;
}

static int Faults(void) {
  void* bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(bad != MAP_FAILED);
  FAILS_WITH(syscall(SYS_openat2, AT_FDCWD, In("f"), bad, 24L), EFAULT);
  uint64_t how[3] = {O_RDONLY, 0, 0};
  FAILS_WITH(syscall(SYS_openat2, AT_FDCWD, bad, how, sizeof(how)), EFAULT);
  FAILS_WITH(syscall(SYS_clone3, bad, 64L), EFAULT);
  FAILS_WITH(open((const char*)bad, O_RDONLY), EFAULT);
  FAILS_WITH(openat(AT_FDCWD, (const char*)bad, O_RDONLY), EFAULT);
  char* argv[] = {"x", NULL};
  FAILS_WITH(execve((const char*)bad, argv, environ), EFAULT);
  FAILS_WITH(syscall(SYS_execve, bad, argv, environ), EFAULT);
  FAILS_WITH(unlink((const char*)bad), EFAULT);
  FAILS_WITH(rename((const char*)bad, (const char*)bad), EFAULT);
  FAILS_WITH(chdir((const char*)bad), EFAULT);
  struct stat st;
  FAILS_WITH(stat((const char*)bad, &st), EFAULT);
  FAILS_WITH(access((const char*)bad, R_OK), EFAULT);
  // The kernel reaps the child, then cannot store its status.
  pid_t pid = ExitedChild();
  CHECK(pid > 0);
  FAILS_WITH(waitpid(pid, (int*)bad, 0), EFAULT);
  pid = ExitedChild();
  CHECK(pid > 0);
  FAILS_WITH(wait4(pid, (int*)bad, 0, NULL), EFAULT);
  pid = ExitedChild();
  CHECK(pid > 0);
  FAILS_WITH(syscall(SYS_wait4, pid, bad, 0L, 0L), EFAULT);
  return 0;
}

// Each exec of `program` with `argv` and `envp` fails with `error`: execve, execle (`envp`
// only), raw execve, posix_spawn; and by name from a PATH that has the program's directory
// first, execvpe and posix_spawnp.
static int ExecsFail(const char* program, char* const argv[], char* const envp[], int error) {
  FAILS_WITH(execve(program, argv, envp), error);
  FAILS_WITH(execle(program, "x", (char*)NULL, envp), error);
  FAILS_WITH(syscall(SYS_execve, program, argv, envp), error);
  pid_t pid = 0;
  CHECK(posix_spawn(&pid, program, NULL, NULL, argv, envp) == error);
  const char* slash = strrchr(program, '/');
  if (slash != NULL && getenv("PATH") != NULL) {
    // By name, from the program's directory first in PATH.
    char path[4096];
    snprintf(path, sizeof(path), "PATH=%.*s:/usr/bin:/bin", (int)(slash - program), program);
    char* saved = strdup(getenv("PATH"));
    setenv("PATH", path + 5, 1);
    FAILS_WITH(execvpe(slash + 1, argv, envp), error);
    CHECK(posix_spawnp(&pid, slash + 1, NULL, NULL, argv, envp) == error);
    setenv("PATH", saved, 1);
    free(saved);
  }
  return 0;
}

static int ExecFaults(const char* static_program) {
  char* bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(bad != MAP_FAILED);
  char* argv[] = {"false", NULL};
  char* bad_string_env[] = {"A=1", bad, NULL};
  char* bad_string_argv[] = {"false", bad, NULL};
  const char* programs[] = {"/bin/false", static_program};
  for (int i = 0; i < 2 && programs[i] != NULL; ++i) {
    int failed = ExecsFail(programs[i], argv, (char* const*)bad, EFAULT);
    if (failed == 0) failed = ExecsFail(programs[i], argv, bad_string_env, EFAULT);
    if (failed == 0) FAILS_WITH(execve(programs[i], (char* const*)bad, environ), EFAULT);
    if (failed == 0) FAILS_WITH(execve(programs[i], bad_string_argv, environ), EFAULT);
    if (failed != 0) return failed;
  }
  // execveat: a bad path, with and without AT_EMPTY_PATH; bad flags; a bad descriptor.
  FAILS_WITH(execveat(AT_FDCWD, bad, argv, environ, 0), EFAULT);
  int fd = open("/bin/false", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  FAILS_WITH(execveat(fd, bad, argv, environ, AT_EMPTY_PATH), EFAULT);
  FAILS_WITH(execveat(fd, "", argv, (char* const*)bad, AT_EMPTY_PATH), EFAULT);
  FAILS_WITH(execveat(fd, "", argv, bad_string_env, AT_EMPTY_PATH), EFAULT);
  FAILS_WITH(execveat(AT_FDCWD, "/bin/false", argv, environ, 0x40000000), EINVAL);
  FAILS_WITH(execveat(12345, "false", argv, environ, 0), EBADF);
  FAILS_WITH(execveat(-7, "", argv, environ, AT_EMPTY_PATH), EBADF);
  FAILS_WITH(syscall(SYS_execveat, fd, bad, argv, environ, (long)AT_EMPTY_PATH), EFAULT);
  // fexecve: glibc refuses a negative descriptor and a null argv or envp (EINVAL) itself.
  FAILS_WITH(fexecve(fd, argv, (char* const*)bad), EFAULT);
  FAILS_WITH(fexecve(fd, argv, bad_string_env), EFAULT);
  FAILS_WITH(fexecve(-1, argv, environ), EINVAL);
  char* const* volatile none = NULL;  // hidden from glibc's nonnull attributes
  FAILS_WITH(fexecve(fd, argv, none), EINVAL);
  FAILS_WITH(fexecve(fd, none, environ), EINVAL);
  FAILS_WITH(fexecve(12345, argv, environ), EBADF);
  return 0;
}

static int NoHang(void) {
  int pipe_fds[2];
  CHECK(pipe(pipe_fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(pipe_fds[1]);
    read(pipe_fds[0], &c, 1);  // until the parent closes its end
    _exit(0);
  }
  CHECK(pid > 0);
  close(pipe_fds[0]);
  int status = 1234;
  CHECK(waitpid(pid, &status, WNOHANG) == 0 && status == 1234);
  CHECK(wait4(pid, &status, WNOHANG, NULL) == 0 && status == 1234);
  CHECK(syscall(SYS_wait4, pid, &status, (long)WNOHANG, 0L) == 0 && status == 1234);
  close(pipe_fds[1]);
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  FAILS_WITH(waitpid(-1, &status, WNOHANG), ECHILD);
  return 0;
}

static int FailedCalls(void) {
  FAILS_WITH(open(In("absent"), O_RDONLY), ENOENT);
  FAILS_WITH(open(In("absent/x"), O_RDONLY), ENOENT);
  FAILS_WITH(openat(AT_FDCWD, "absent-here", O_RDONLY), ENOENT);
  FAILS_WITH(open(In("file/x"), O_RDONLY), ENOTDIR);
  FAILS_WITH(open(In("file"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
  FAILS_WITH(openat(12345, "rel", O_RDONLY), EBADF);
  FAILS_WITH(creat(In("absent/x"), 0644), ENOENT);
  FAILS_WITH(syscall(SYS_openat, AT_FDCWD, In("absent"), O_RDONLY), ENOENT);
  uint64_t how[3] = {O_RDONLY, 0, 0};
  FAILS_WITH(syscall(SYS_openat2, AT_FDCWD, In("absent"), how, sizeof(how)), ENOENT);
  errno = 0;
  CHECK(fopen(In("absent"), "r") == NULL && errno == ENOENT);
  errno = 0;
  CHECK(opendir(In("absent")) == NULL && errno == ENOENT);
  FAILS_WITH(rename(In("absent"), In("b")), ENOENT);
  FAILS_WITH(renameat(AT_FDCWD, In("absent"), AT_FDCWD, In("b")), ENOENT);
  FAILS_WITH(link(In("absent"), In("b")), ENOENT);
  FAILS_WITH(symlink("x", In("file")), EEXIST);
  FAILS_WITH(unlink(In("absent")), ENOENT);
  FAILS_WITH(unlinkat(AT_FDCWD, In("absent"), 0), ENOENT);
  FAILS_WITH(rmdir(In("full")), ENOTEMPTY);
  FAILS_WITH(mkdir(In("full"), 0755), EEXIST);
  FAILS_WITH(chdir(In("absent")), ENOENT);
  FAILS_WITH(fchdir(12345), EBADF);
  FAILS_WITH(close(12345), EBADF);
  FAILS_WITH(dup2(12345, 12346), EBADF);
  struct stat st;
  FAILS_WITH(stat(In("absent"), &st), ENOENT);
  FAILS_WITH(lstat(In("absent"), &st), ENOENT);
  FAILS_WITH(access(In("absent"), R_OK), ENOENT);
  char link_buf[64];
  FAILS_WITH(readlink(In("absent"), link_buf, sizeof(link_buf)), ENOENT);
  char* argv[] = {"absent", NULL};
  FAILS_WITH(execve(In("absent"), argv, environ), ENOENT);
  FAILS_WITH(execv(In("file"), argv), EACCES);
  FAILS_WITH(execvp("filemon-absent-program", argv), ENOENT);
  char long_name[PATH_MAX];  // longer than a file name may be, and than any PATH candidate
  memset(long_name, 'n', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  FAILS_WITH(execvp(long_name, argv), ENAMETOOLONG);
  FAILS_WITH(execlp(long_name, "x", (char*)NULL), ENAMETOOLONG);
  pid_t pid;
  CHECK(posix_spawn(&pid, In("absent"), NULL, NULL, argv, environ) == ENOENT);
  int status;
  FAILS_WITH(waitpid(-1, &status, 0), ECHILD);
  FAILS_WITH(wait(&status), ECHILD);
  FAILS_WITH(syscall(SYS_wait4, -1L, &status, 0L, 0L), ECHILD);
  siginfo_t info;
  FAILS_WITH(waitid(P_ALL, 0, &info, WEXITED), ECHILD);
  return 0;
}

static int SuccessfulCalls(void) {
  KEEPS_ERRNO(close(open(In("file"), O_RDONLY)));
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  KEEPS_ERRNO(close(openat(dfd, "file", O_RDONLY)));
  KEEPS_ERRNO(close(openat(dfd, "new", O_WRONLY | O_CREAT, 0644)));
  KEEPS_ERRNO(renameat(dfd, "new", dfd, "new2"));
  KEEPS_ERRNO(linkat(dfd, "new2", dfd, "new3", 0));
  KEEPS_ERRNO(unlinkat(dfd, "new2", 0));
  KEEPS_ERRNO(rename(In("new3"), In("new4")));
  KEEPS_ERRNO(unlink(In("new4")));
  KEEPS_ERRNO(symlinkat("file", dfd, "sym"));
  KEEPS_ERRNO(unlinkat(dfd, "sym", 0));
  KEEPS_ERRNO(chdir(dir));
  KEEPS_ERRNO(fchdir(dfd));
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status;
  KEEPS_ERRNO(waitpid(pid, &status, 0));
  // Process creation: glibc leaves errno alone when these succeed (posix_spawnp's search
  // does not: it is left out).
  char* argv[] = {"true", NULL};
  KEEPS_ERRNO(pid = fork());
  if (pid == 0) _exit(0);
  waitpid(pid, &status, 0);
  errno = 4321;
  pid = vfork();
  if (pid == 0) {
    execv("/bin/true", argv);
    _exit(127);
  }
  CHECK(pid > 0 && errno == 4321);
  waitpid(pid, &status, 0);
  errno = 4321;
  CHECK(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0 && errno == 4321);
  waitpid(pid, &status, 0);
  KEEPS_ERRNO(system("true"));
  errno = 4321;
  FILE* shell = popen("true", "r");
  CHECK(shell != NULL && errno == 4321);
  KEEPS_ERRNO(pclose(shell));
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "execfaults") == 0) return ExecFaults(argv[3]);
  if (argc != 3) return 2;
  dir = argv[2];
  if (strcmp(argv[1], "faults") == 0) return Faults();
  if (strcmp(argv[1], "execfaults") == 0) return ExecFaults(NULL);
  if (strcmp(argv[1], "nohang") == 0) return NoHang();
  if (strcmp(argv[1], "errno") == 0) {
    // DIR/file (a regular file) and DIR/full (a directory that is not empty) are made here.
    int fd = open(In("file"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || close(fd) != 0 || mkdir(In("full"), 0755) != 0) return 2;
    fd = open(In("full/x"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || close(fd) != 0) return 2;
    const int failed = FailedCalls();
    return failed != 0 ? failed : SuccessfulCalls();
  }
  return 2;
}
