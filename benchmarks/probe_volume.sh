#!/usr/bin/env bash
# How many N lines (absent-path probes, filemon --probes) a gcc compile and the make workload of
# trace_overhead.sh produce: with the per-(pid, path) rule (what filemon writes, under ptrace and
# under preload) and without it (every failed lookup of the calls filemon watches, counted by
# strace, which has no such rule). Results in BENCHMARKS.md ("Absent-path probes"). Scratch
# files go to $FILEMON_BENCH_DIR (default /tmp/filemon-bench).
#
# usage: benchmarks/probe_volume.sh [--workloads gcc,make]   ($FILEMON overrides the binary)
#
# Prints one line per workload:
#   WORKLOAD: N lines ptrace P, preload L (R lines R); failed lookups without the rule F,
#   distinct (pid, path) by strace D
# and for the gcc workload, what --probes costs the preload backend in system calls (strace -f
# -c of the whole run, supervisor included: each N is one write of its own, made by the process
# that probed; anything more is the interposer's or the supervisor's extra work):
#   WORKLOAD, preload system calls: S without --probes, T with (writes W, X): Y more per N line
set -euo pipefail
source "$(dirname "$0")/common.sh"

WORKLOADS=gcc,make
bench_parse_args "--workloads=WORKLOADS" "$@"
bench_scratch
mkdir -p "$SCRATCH/probes"
bench_filemon
source "$REPO/benchmarks/bmake_workload.sh"
GCC_DIR=$SCRATCH/probes
source "$REPO/benchmarks/gcc_one_workload.sh"
label_gcc="gcc -O1 -c a.c"
label_make="make -j2 -f Makefile.boot (bmake)"

CALLS=open,openat,openat2,execve,execveat,stat,lstat,newfstatat,statx,access,faccessat
CALLS=$CALLS,faccessat2,readlink,readlinkat

IFS=, read -r -a workloads <<< "$WORKLOADS"
for w in "${workloads[@]}"; do
  "setup_$w"
  out=$SCRATCH/probes/$w
  "prepare_$w"
  "run_$w" "$FILEMON --backend=ptrace --probes -o $out.ptrace.log --" > /dev/null
  "prepare_$w"
  "run_$w" "$FILEMON --backend=preload --probes -o $out.preload.log --" > /dev/null
  ptrace_n=$(grep -c '^N ' "$out.ptrace.log" || true)
  preload_n=$(grep -c '^N ' "$out.preload.log" || true)
  reads=$(grep -c '^R ' "$out.ptrace.log" || true)
  if command -v strace >/dev/null; then
    # One file per process (-ff): no call split around another process's.
    rm -rf "$out.strace" && mkdir "$out.strace"
    "prepare_$w"
    "run_$w" "strace -ff -qq -o $out.strace/t -e status=failed -e trace=$CALLS" > /dev/null
    failed=$(grep -E '= -1 (ENOENT|ENOTDIR)' "$out.strace"/t.* | grep -v O_CREAT || true)
    without_rule=$(printf '%s\n' "$failed" | grep -c . || true)
    # "FILE:call([DIRFD, ]"path"...": the file names the process; a real dirfd stays in the key
    # (AT_FDCWD is the same lookup as a call without one).
    distinct=$(printf '%s\n' "$failed" |
      sed -E 's/^([^:]*):[a-z0-9]+\((AT_FDCWD, )?([^"]*)"([^"]*)".*/\1 \3\4/' | sort -u |
      grep -c . || true)
  else
    without_rule="(strace not installed)"
    distinct="-"
  fi
  label="label_$w"
  if [[ "$w" == gcc ]] && command -v strace >/dev/null; then
    for probes in "" --probes; do
      "prepare_$w"
      "run_$w" "strace -f -qq -c -o $out.calls$probes $FILEMON --backend=preload $probes -o $out.count.log --" > /dev/null
    done
    calls() { awk -v want="$2" '$NF == want { print $4 }' "$1"; }
    n=$(grep -c '^N ' "$out.count.log" || true)
    echo "${!label}, preload system calls: $(calls "$out.calls" total) without --probes," \
      "$(calls "$out.calls--probes" total) with (writes $(calls "$out.calls" write)," \
      "$(calls "$out.calls--probes" write)): $(awk -v a="$(calls "$out.calls" total)" \
        -v b="$(calls "$out.calls--probes" total)" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')" \
      "more per N line ($n)"
  fi
  echo "${!label}: N lines ptrace $ptrace_n, preload $preload_n (R lines $reads); failed" \
    "lookups without the rule $without_rule, distinct (pid, path) by strace $distinct"
done
