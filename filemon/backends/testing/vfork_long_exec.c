// vfork_long_exec DIR [STATIC]: vforks 64 children in turn, each of which execs, with 300
// arguments, DIR/script (a shell script without a "#!" line, which execvp runs with /bin/sh)
// through execvp, and with STATIC (a statically linked program, which auto runs under its
// ptrace helper), each exec succeeding. A tracer that builds the new program's long argv in
// memory it maps inside the vfork child leaves that mapping in this process (the child shares
// it until its exec): exits 0 if this process grew by fewer than 32 pages over the loop, 1 if
// it grew more, 2-4 if a child failed.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kChildren = 64, kArgs = 300, kMaxGrowth = 32 };

// The size of this process's address space, in pages (/proc/self/statm's first field).
static long Pages(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = -1;
  if (f != NULL) {
    if (fscanf(f, "%ld", &pages) != 1) pages = -1;
    fclose(f);
  }
  return pages;
}

// Runs `program` with `argv` in a vforked child; its exit status, or -1.
static int RunVforked(const char* program, char** argv, int search) {
  pid_t pid = vfork();
  if (pid == 0) {
    if (search) {
      execvp(program, argv);
    } else {
      execv(program, argv);
    }
    _exit(127);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) return 2;
  static char script[4096];
  snprintf(script, sizeof(script), "%s/script", argv[1]);
  int fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (fd < 0 || write(fd, "exit 0\n", 7) != 7 || close(fd) != 0) return 2;
  static char* args[kArgs + 1];
  for (int i = 0; i < kArgs; ++i) args[i] = (char*)"-";
  const char* static_program = argc == 3 ? argv[2] : NULL;
  // One round first: whatever the first exec maps once for good is not growth.
  if (RunVforked(script, args, 1) != 0) return 3;
  const long before = Pages();
  for (int i = 0; i < kChildren; ++i) {
    if (RunVforked(script, args, 1) != 0) return 3;
    // static_open with the wrong count of arguments exits 2 at once.
    if (static_program != NULL && RunVforked(static_program, args, 0) != 2) return 4;
  }
  const long after = Pages();
  if (before < 0 || after < 0) return 2;
  fprintf(stderr, "vfork_long_exec: %ld pages before, %ld after\n", before, after);
  return after - before < kMaxGrowth ? 0 : 1;
}
