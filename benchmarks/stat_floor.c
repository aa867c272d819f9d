// The floor for any out-of-date check of one .meta, as a whole process: read the file, collect
// the distinct absolute paths of its R and E records, then stat(2) each once, in the order they
// first appear, with no other work (no ignore rules, no per-process directories, no decision).
// meta_vs_bmake.sh times it next to `filemon-meta check` and bmake: what `check` costs above
// this is its own; what this costs is the machine's (process start, the file, the system calls).
// It prints the number of paths and the time of each phase, so that the stat(2) calls alone can
// be set against bmake's time.
//
// usage: stat_floor FILE.meta
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// Open addressing over (offset, length) of paths in the mapped file: no copies.
typedef struct {
  uint32_t offset, length;
} Slot;

// 8 bytes a step (a path is tens of bytes; a byte-at-a-time hash would be most of the parse).
static uint64_t Hash(const char* p, size_t n) {
  uint64_t h = n * 0x9e3779b97f4a7c15ull, w;
  for (; n >= 8; p += 8, n -= 8) {
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
  }
  w = 0;
  memcpy(&w, p, n);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

static double Ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
  const double t0 = Ms();
  if (argc != 2) {
    fprintf(stderr, "usage: stat_floor FILE.meta\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
    perror(argv[1]);
    return 2;
  }
  const size_t size = (size_t)st.st_size;
  const char* data = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (data == MAP_FAILED) {
    perror("mmap");
    return 2;
  }
  size_t cap = 1 << 12;
  size_t used = 0;
  Slot* slots = calloc(cap, sizeof(Slot));
  char path[4097];
  Slot* order = malloc(sizeof(Slot) * cap / 2);  // the paths in first-seen order
  const char* end = data + size;
  for (const char* q = data; q < end;) {
    const char* nl = memchr(q, '\n', (size_t)(end - q));
    if (nl == NULL) nl = end;
    // "R pid /path" or "E pid /path".
    if (nl - q > 4 && (q[0] == 'R' || q[0] == 'E') && q[1] == ' ') {
      const char* sp = memchr(q + 2, ' ', (size_t)(nl - q - 2));
      if (sp != NULL && sp + 1 < nl && sp[1] == '/' && nl - sp - 1 < (long)sizeof(path)) {
        const char* p = sp + 1;
        const size_t n = (size_t)(nl - p);
        size_t i = Hash(p, n) & (cap - 1);
        while (slots[i].length != 0 &&
               (slots[i].length != n || memcmp(data + slots[i].offset, p, n) != 0)) {
          i = (i + 1) & (cap - 1);
        }
        if (slots[i].length == 0) {
          if (2 * (used + 1) > cap) {  // at most half full: double, and find the free slot again
            Slot* old = slots;
            slots = calloc(2 * cap, sizeof(Slot));
            for (size_t k = 0; k < cap; ++k) {
              if (old[k].length == 0) continue;
              size_t j = Hash(data + old[k].offset, old[k].length) & (2 * cap - 1);
              while (slots[j].length != 0) j = (j + 1) & (2 * cap - 1);
              slots[j] = old[k];
            }
            free(old);
            cap *= 2;
            order = realloc(order, sizeof(Slot) * cap / 2);
            for (i = Hash(p, n) & (cap - 1); slots[i].length != 0; i = (i + 1) & (cap - 1)) {
            }
          }
          slots[i].offset = (uint32_t)(p - data);
          slots[i].length = (uint32_t)n;
          order[used++] = slots[i];
        }
      }
    }
    q = nl + 1;
  }
  const double t1 = Ms();
  for (size_t k = 0; k < used; ++k) {
    const Slot* sl = &order[k];
    memcpy(path, data + sl->offset, sl->length);
    path[sl->length] = '\0';
    struct stat s;
    (void)stat(path, &s);
  }
  const double t2 = Ms();
  printf("%zu paths; read and collect %.2f ms, stat %.2f ms (%.2f us each)\n", used, t1 - t0,
         t2 - t1, used ? (t2 - t1) * 1e3 / (double)used : 0.0);
  return 0;
}
