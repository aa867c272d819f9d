#!/usr/bin/env bash
# The floor of what --probes can add to the ptrace backend on the gcc workload of
# trace_overhead.sh, against the goal of +0.05 (5 % of the untraced CPU time). With --probes the
# seccomp filter must stop on every call of the stat family that names a path (stat, lstat,
# access, readlink, newfstatat, statx, faccessat, faccessat2, readlinkat; not an fstat through
# AT_EMPTY_PATH, which the filter lets through): a filter sees the call's number and arguments,
# not the path they point to, so it cannot tell a lookup of an absent path from any other. Each
# such call costs at least one ptrace stop, so the floor is
#   (stat-family calls of the workload, counted by strace) x (CPU of one stop, stop_cost.c)
# printed beside 0.05 x the untraced CPU. With --rounds N > 0, N paired rounds (each an
# untraced run, then the rest) also measure that floor on the workload itself: what stopping at
# the entry of those calls and resuming them at once adds to a bare seccomp+ptrace tracer
# (ptrace_floor.c --stat-entry against ptrace_floor.c), which includes what a stop costs a big
# program beyond stop_cost.c's small loop (its caches refilled after each switch); and what
# --probes adds to filemon's ptrace backend, above that.
# Results in BENCHMARKS.md ("Tracing overhead", the ptrace --probes paragraph). Scratch files go
# to $FILEMON_BENCH_DIR (default /tmp/filemon-bench).
#
# usage: benchmarks/probe_floor.sh [--rounds N] [--stop-calls N]
#        (--rounds: measured paired rounds, default 3, 0 for none; --stop-calls: the calls
#        stop_cost.c makes per mode and round, default 20000; $FILEMON overrides the binary)
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=3
STOP_CALLS=20000
bench_parse_args "--rounds=ROUNDS --stop-calls=STOP_CALLS" "$@"
command -v strace >/dev/null || bench_die "needs strace (apt-get install strace)"
bench_scratch
mkdir -p "$SCRATCH/floor"
source "$REPO/benchmarks/gcc_workload.sh"
setup_gcc

# 1. The calls: one strace file per process (-ff), so that no call is split in two lines.
STAT_FAMILY=stat,lstat,access,readlink,newfstatat,statx,faccessat,faccessat2,readlinkat
rm -rf "$SCRATCH/floor/strace" && mkdir "$SCRATCH/floor/strace"
prepare_gcc
run_gcc "strace -ff -qq -o $SCRATCH/floor/strace/t -e trace=$STAT_FAMILY" > /dev/null
calls=$(cat "$SCRATCH/floor/strace"/t.* | grep -v AT_EMPTY_PATH | grep -c '^[a-z0-9]*(' || true)
by_call=$(cat "$SCRATCH/floor/strace"/t.* | grep -v AT_EMPTY_PATH | sed -n 's/^\([a-z0-9]*\)(.*/\1/p' |
  sort | uniq -c | sort -rn | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')

# 2. One stop: stop_cost.c's ptrace-entry mode (a seccomp stop, PTRACE_GET_SYSCALL_INFO,
# PTRACE_CONT), CPU per call above the untraced call.
cc -O2 -o "$SCRATCH/floor/stop_cost" "$REPO/benchmarks/stop_cost.c"
stop_out=$("$SCRATCH/floor/stop_cost" "$STOP_CALLS" 5)
stop_us=$(printf '%s\n' "$stop_out" | awk '$1 == "ptrace-entry" { print $4 }')

# 3. The untraced CPU (user + system of the whole tree), median of 5 runs; with --rounds, the
# paired rounds of the bare tracer and of filemon, with and without the stat family.
if [[ "$ROUNDS" -gt 0 ]]; then bench_filemon; fi
TIMEFORMAT='%3U %3S'
cpu_of() {  # cpu_of PREFIX: the CPU seconds of one run of the workload under PREFIX
  prepare_gcc
  { time run_gcc "$1" > /dev/null 2>&1; } 2> "$SCRATCH/floor/time.txt"
  awk '{ print $1 + $2 }' "$SCRATCH/floor/time.txt"
}
untraced=$(bench_median $(for _ in 1 2 3 4 5; do cpu_of ""; done))
cc -O2 -o "$SCRATCH/floor/ptrace_floor" "$REPO/benchmarks/ptrace_floor.c"
bare=$SCRATCH/floor/ptrace_floor
added=()
floor_added=()
for ((round = 0; round < ROUNDS; ++round)); do
  base=$(cpu_of "")
  floor=$(cpu_of "$bare $SCRATCH/floor/bare.log")
  floor_stat=$(cpu_of "$bare --stat-entry $SCRATCH/floor/bare.log")
  plain=$(cpu_of "$FILEMON --backend=ptrace -o $SCRATCH/floor/plain.log --")
  probes=$(cpu_of "$FILEMON --backend=ptrace --probes -o $SCRATCH/floor/probes.log --")
  floor_added+=("$(echo "($floor_stat - $floor) / $base" | bc -l)")
  added+=("$(echo "($probes - $plain) / $base" | bc -l)")
done

awk -v calls="$calls" -v units="$GCC_UNITS" -v stop="$stop_us" -v untraced="$untraced" \
  -v by="$by_call" -v measured="$(bench_median ${added[@]+"${added[@]}"})" \
  -v workload_floor="$(bench_median ${floor_added[@]+"${floor_added[@]}"})" \
  -v rounds="$ROUNDS" 'BEGIN {
  floor_ms = calls * stop / 1000; goal_ms = 0.05 * untraced * 1000
  printf "stat-family calls that stop (strace, %d compiles): %d, %.0f per compile (%s)\n", units, calls, calls / units, by
  printf "one stop (stop_cost.c, ptrace-entry, CPU above the call): %.2f us\n", stop
  printf "floor: %d calls x %.2f us = %.1f ms of CPU = +%.3f of the untraced CPU (%.3f s, median of 5)\n", calls, stop, floor_ms, floor_ms / (untraced * 1000), untraced
  printf "goal: +0.05 = %.1f ms; the floor is %.1fx the goal\n", goal_ms, floor_ms / goal_ms
  if (rounds == 0 || measured == "") exit
  printf "floor on the workload: the entry stops add +%.3f to a bare tracer (ptrace_floor.c --stat-entry, median of %d paired rounds)\n", workload_floor, rounds
  printf "measured: --probes adds +%.3f to ptrace (the same rounds), +%.3f above the floor on the workload\n", measured, measured - workload_floor
}'
