# The gcc workload of trace_overhead.sh and probe_floor.sh, sourced by both: 20 small C files,
# each including libc headers, compiled one after the other (gcc -O1 -c).
#   setup_gcc       writes the sources into $SCRATCH/gcc
#   prepare_gcc     removes the objects (untimed)
#   run_gcc PREFIX  the 20 compiles, under PREFIX (a tracer's command line, or empty)
# Needs $SCRATCH.

GCC_UNITS=20

setup_gcc() {
  mkdir -p "$SCRATCH/gcc"
  for i in $(seq "$GCC_UNITS"); do
    cat > "$SCRATCH/gcc/unit$i.c" <<C
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct item$i { char name[32]; int value; };
int compare$i(const void* a, const void* b) {
  return ((const struct item$i*)a)->value - ((const struct item$i*)b)->value;
}
int run$i(int n) {
  struct item$i* items = calloc((size_t)n, sizeof(*items));
  for (int k = 0; k < n; ++k) { snprintf(items[k].name, 32, "x%d", k); items[k].value = (k * $i) % 17; }
  qsort(items, (size_t)n, sizeof(*items), compare$i);
  int r = items[0].value + (int)strlen(items[n - 1].name);
  free(items);
  return r;
}
C
  done
}
prepare_gcc() { rm -f "$SCRATCH"/gcc/*.o; }
run_gcc() {
  (cd "$SCRATCH/gcc" && $1 sh -c "for i in \$(seq $GCC_UNITS); do gcc -O1 -c unit\$i.c -o unit\$i.o; done")
}
