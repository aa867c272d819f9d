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
source "$(dirname "$0")/common.sh"

WORKLOADS=gcc,make
bench_parse_args "--workloads=WORKLOADS" "$@"
if ! command -v bpftrace >/dev/null || [[ $(id -u) != 0 ]]; then
  bench_die "needs bpftrace, run as root"
fi

bench_scratch
mkdir -p "$SCRATCH/stops"
bench_filemon
# bpftrace matches the tracer by its name (15 characters at most): a copy with a known one.
cp "$FILEMON" "$SCRATCH/stops/fm-stops"
FILEMON=$SCRATCH/stops/fm-stops
source "$REPO/benchmarks/bmake_workload.sh"
GCC_DIR=$SCRATCH/stops
source "$REPO/benchmarks/gcc_one_workload.sh"

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
      printf 'SCRATCH=%q\nGCC_DIR=%q\n' "$SCRATCH" "$GCC_DIR"
      printf 'source %q\n' "$REPO/benchmarks/bmake_workload.sh" "$REPO/benchmarks/gcc_one_workload.sh"
      printf 'setup_%s >/dev/null\nrun_%s %q >/dev/null 2>&1\n' "$w" "$w" \
        "$FILEMON --backend=ptrace$probes -o $SCRATCH/stops/$w.log --"
    } > "$runner"
    counts=$(bpftrace -q -e "$PROGRAM" -c "/bin/bash $runner" 2>/dev/null |
      awk '/^@waits:/ { w = $2 } /^@exits:/ { e = $2 } END { if (w != "") print w " waits, " e + 0 " to the exit stop" }')
    echo "$w, ptrace$probes: ${counts:-(bpftrace failed)}"
  done
done
