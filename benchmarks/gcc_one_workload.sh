# The gcc workload of probe_volume.sh and ptrace_stops.sh, sourced by both: one `gcc -O1 -c` of a
# file that includes libc headers (one of trace_overhead.sh's twenty, in kind).
#   setup_gcc       writes the source
#   prepare_gcc     removes the object (untimed)
#   run_gcc PREFIX  the compile, under PREFIX (a tracer's command line, or empty)
# Needs $GCC_DIR, an existing directory of the script's own.

setup_gcc() {
  printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n'\
'#include <sys/stat.h>\nint main(void) { printf("%%zu\\n", strlen("x")); return 0; }\n' \
    > "$GCC_DIR/a.c"
}
prepare_gcc() { rm -f "$GCC_DIR/a.o"; }
run_gcc() { (cd "$GCC_DIR" && $1 gcc -O1 -c a.c); }
