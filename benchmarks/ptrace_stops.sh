#!/usr/bin/env bash
# How many times the ptrace backend stops its tracees on the workloads of probe_volume.sh (one
# gcc compile, the bmake build), with and without --probes: the count of the tracer's waitpid
# returns (one per stop, plus one per exit), and how many of its resumes were PTRACE_SYSCALL (a
# call that goes on to its exit stop). Counts, not times: the machine's load does not change
# them. Needs bpftrace and root (the counts come from the syscall tracepoints). Results in
# BENCHMARKS.md ("Tracing overhead", the ptrace --probes paragraph). Scratch files go to
# $FILEMON_BENCH_DIR (default /tmp/filemon-bench).
#
# usage: benchmarks/ptrace_stops.sh [--workloads gcc,make]   ($FILEMON overrides the binary)
#
# Prints one line per workload and variant:
#   WORKLOAD, ptrace[ --probes]: W waits, S to the exit stop
set -euo pipefail

WORKLOADS=gcc,make
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workloads) WORKLOADS=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "ptrace_stops.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ! command -v bpftrace >/dev/null || [[ $(id -u) != 0 ]]; then
  echo "ptrace_stops.sh: needs bpftrace, run as root" >&2
  exit 2
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}
mkdir -p "$SCRATCH/stops"
if [[ -z "${FILEMON:-}" ]]; then
  (cd "$REPO" && bazel build --config=opt //tools:filemon >&2)
  FILEMON=$(cd "$REPO" && bazel info --config=opt bazel-bin 2>/dev/null)/tools/filemon
fi
# bpftrace matches the tracer by its name (15 characters at most): a copy with a known one.
cp "$FILEMON" "$SCRATCH/stops/fm-stops"
FILEMON=$SCRATCH/stops/fm-stops
source "$REPO/benchmarks/bmake_workload.sh"

setup_gcc() {
  printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n'\
'#include <sys/stat.h>\nint main(void) { printf("%%zu\\n", strlen("x")); return 0; }\n' \
    > "$SCRATCH/stops/a.c"
}
prepare_gcc() { rm -f "$SCRATCH/stops/a.o"; }
run_gcc() { (cd "$SCRATCH/stops" && $1 gcc -O1 -c a.c); }

# PTRACE_SYSCALL is request 24. bpftrace prints both counts when the workload ends.
PROGRAM='tracepoint:syscalls:sys_enter_wait4 /comm == "fm-stops"/ { @waits = count(); }
tracepoint:syscalls:sys_enter_ptrace /comm == "fm-stops" && args->request == 24/ { @exits = count(); }'

IFS=, read -r -a workloads <<< "$WORKLOADS"
runner=$SCRATCH/stops/run.sh
for w in "${workloads[@]}"; do
  "setup_$w"
  for probes in "" " --probes"; do
    "prepare_$w"
    # bpftrace starts the workload itself (-c), so that it is attached before the first stop.
    {
      printf 'SCRATCH=%q\nsource %q\n' "$SCRATCH" "$REPO/benchmarks/bmake_workload.sh"
      declare -f setup_gcc run_gcc
      printf 'setup_%s >/dev/null\nrun_%s %q >/dev/null 2>&1\n' "$w" "$w" \
        "$FILEMON --backend=ptrace$probes -o $SCRATCH/stops/$w.log --"
    } > "$runner"
    counts=$(bpftrace -q -e "$PROGRAM" -c "/bin/bash $runner" 2>/dev/null |
      awk '/^@waits:/ { w = $2 } /^@exits:/ { e = $2 } END { if (w != "") print w " waits, " e + 0 " to the exit stop" }')
    echo "$w, ptrace$probes: ${counts:-(bpftrace failed)}"
  done
done
