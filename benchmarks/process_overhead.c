// process_overhead: what tracing adds to each process of one program, measured in pairs.
//
// usage: process_overhead ROUNDS VARIANT... -- PROGRAM [ARGS...]
//
// Each round runs PROGRAM (an absolute path: no PATH search) once per VARIANT, in a rotating
// order, and reports per variant the median wall and CPU time (user + system of the child and
// of what it waited for) and the median of its differences to the first variant *of the same
// round*, which cancels a VM's drift; then the same for its minor page faults (a count, steadier
// than times on a loaded machine). Variants say which environment the child gets:
//   clean          this process's environment without LD_PRELOAD and FILEMON_* (untraced)
//   inherit        this process's environment as is (traced, when run under filemon)
//   preload=LIB    clean, plus LD_PRELOAD=LIB (e.g. an empty library: the floor for any
//                  interposer)
//   keep=LIB       inherit, with LD_PRELOAD=LIB instead (another build of the interposer
//                  under the same supervisor)
// Either may end in @NAME=VALUE to add one variable.
//
// Run it under `filemon --backend=preload` to compare traced with untraced children of one
// supervisor. It starts children with raw fork and execve system calls, which no interposer
// sees, so that `clean` children stay untraced (the interposer would put its variables back).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static long RawSyscall3(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static double NowUs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int CompareDoubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

// The environment of one variant (see the file comment); exits on a malformed variant.
static char** VariantEnvironment(const char* variant) {
  const int inherit = strcmp(variant, "inherit") == 0 || strncmp(variant, "inherit@", 8) == 0 ||
                      strncmp(variant, "keep=", 5) == 0;
  const int clean = strcmp(variant, "clean") == 0 || strncmp(variant, "clean@", 6) == 0 ||
                    strncmp(variant, "preload=", 8) == 0;
  if (!inherit && !clean) {
    fprintf(stderr, "process_overhead: unknown variant %s\n", variant);
    exit(2);
  }
  size_t count = 0;
  while (environ[count] != NULL) ++count;
  char** env = calloc(count + 3, sizeof(char*));
  char* spec = strdup(variant);
  char* extra = strchr(spec, '@');
  if (extra != NULL) *extra++ = '\0';
  const char* library = strchr(spec, '=');
  size_t n = 0;
  for (char** e = environ; *e != NULL; ++e) {
    if (strncmp(*e, "LD_PRELOAD=", 11) == 0 && (clean || library != NULL)) continue;
    if (strncmp(*e, "FILEMON_", 8) == 0 && clean) continue;
    env[n++] = *e;
  }
  if (library != NULL) {
    char* entry = malloc(strlen(library) + 12);
    sprintf(entry, "LD_PRELOAD=%s", library + 1);
    env[n++] = entry;
  }
  if (extra != NULL) env[n++] = extra;
  env[n] = NULL;
  return env;
}

static void Report(const char* title, const char* unit, double* times, int rounds, int variants,
                   char** names) {
  fprintf(stderr, "%s\n", title);
  double* values = calloc(rounds, sizeof(double));
  double* diffs = calloc(rounds, sizeof(double));
  for (int v = 0; v < variants; ++v) {
    for (int r = 0; r < rounds; ++r) {
      values[r] = times[r * variants + v];
      diffs[r] = times[r * variants + v] - times[r * variants];
    }
    qsort(values, rounds, sizeof(double), CompareDoubles);
    qsort(diffs, rounds, sizeof(double), CompareDoubles);
    fprintf(
        stderr,
        "  %-40.40s median %9.0f %-2s   paired difference %+7.0f %-2s (quartiles %+.0f, %+.0f)\n",
        names[v], values[rounds / 2], unit, diffs[rounds / 2], unit, diffs[rounds / 4],
        diffs[3 * rounds / 4]);
  }
  free(values);
  free(diffs);
}

int main(int argc, char** argv) {
  int separator = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--") == 0) {
      separator = i;
      break;
    }
  }
  const int rounds = argc > 1 ? atoi(argv[1]) : 0;
  const int variants = separator - 2;
  if (rounds <= 0 || variants <= 0 || separator + 1 >= argc || argv[separator + 1][0] != '/') {
    fprintf(stderr, "usage: process_overhead ROUNDS VARIANT... -- /ABSOLUTE/PROGRAM [ARGS...]\n");
    return 2;
  }
  char** names = argv + 2;
  char** program = argv + separator + 1;
  char*** envs = calloc(variants, sizeof(char**));
  for (int v = 0; v < variants; ++v) envs[v] = VariantEnvironment(names[v]);
  double* wall = calloc((size_t)rounds * variants, sizeof(double));
  double* cpu = calloc((size_t)rounds * variants, sizeof(double));
  double* faults = calloc((size_t)rounds * variants, sizeof(double));
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < variants; ++k) {
      const int v = (k + r) % variants;
      const double start = NowUs();
      const long pid = RawSyscall3(SYS_fork, 0, 0, 0);
      if (pid == 0) {
        RawSyscall3(SYS_execve, (long)program[0], (long)program, (long)envs[v]);
        RawSyscall3(SYS_exit_group, 127, 0, 0);
      }
      if (pid < 0) {
        fprintf(stderr, "process_overhead: fork failed\n");
        return 1;
      }
      int status;
      struct rusage usage;
      if (wait4((pid_t)pid, &status, 0, &usage) != pid) return 1;
      if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
        fprintf(stderr, "process_overhead: %s did not run (status %d)\n", program[0], status);
        return 1;
      }
      wall[r * variants + v] = NowUs() - start;
      cpu[r * variants + v] = usage.ru_utime.tv_sec * 1e6 + usage.ru_utime.tv_usec +
                              usage.ru_stime.tv_sec * 1e6 + usage.ru_stime.tv_usec;
      faults[r * variants + v] = (double)usage.ru_minflt;
    }
  }
  fprintf(stderr, "%d rounds of %s; differences to %s\n", rounds, program[0], names[0]);
  Report("wall time", "us", wall, rounds, variants, names);
  Report("CPU time (user + system)", "us", cpu, rounds, variants, names);
  Report("minor page faults", "", faults, rounds, variants, names);
  return 0;
}
