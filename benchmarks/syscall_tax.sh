#!/usr/bin/env bash
# The ebpf backend's tax on the rest of the machine: while a run is active, every system call of
# every process exits through its program. Each round runs benchmarks/syscall_tax.c untraced,
# then once while each given filemon binary traces `sleep 30` elsewhere (--backend=ebpf, root),
# and prints the medians of nanoseconds per call and of the paired differences. Finer than
# trace_overhead.sh, whose workloads make few system calls outside the traced tree. The loops'
# times move with the host's load (and with any other ebpf run on the machine, whose program
# runs too); the last table is steadier: the kernel's own run time of each build's on_sys_exit
# during the loops (benchmarks/bpf_run_time.c; the program's body, not the dispatch around it).
#
# usage: benchmarks/syscall_tax.sh [--rounds N] [--filemon BIN]...
#   --rounds N      rounds (default 9)
#   --filemon BIN   a filemon binary to measure (default: the --config=opt build); may be
#                   repeated to compare builds in the same rounds
# Scratch files live in $FILEMON_BENCH_DIR (default /tmp/filemon-bench).
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=9
BINARIES=()
bench_parse_args "--rounds=ROUNDS --filemon=BINARIES+" "$@"
bench_scratch
if [[ ${#BINARIES[@]} -eq 0 ]]; then
  bench_filemon
  BINARIES=("$FILEMON")
fi
cc -O2 -o "$SCRATCH/syscall_tax" "$REPO/benchmarks/syscall_tax.c"
cc -O2 -o "$SCRATCH/bpf_run_time" "$REPO/benchmarks/bpf_run_time.c" -lbpf

# The ids of the loaded programs named on_sys_exit, one a line, sorted.
sys_exit_programs() {
  bpftool prog show | awk '/ name on_sys_exit /{ sub(":", "", $1); print $1 }' | sort
}
for bin in "${BINARIES[@]}"; do
  "$bin" --backend=ebpf -o /dev/null -- /bin/true || bench_die "$bin cannot trace with ebpf here"
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $ROUNDS interleaved rounds"
RESULTS="$SCRATCH/syscall_tax.txt"
: > "$RESULTS"
: > "$RESULTS.bpf"
for ((round = 0; round < ROUNDS; ++round)); do
  echo "untraced $("$SCRATCH/syscall_tax")" >> "$RESULTS"
  for ((k = 0; k < ${#BINARIES[@]}; ++k)); do
    before=$(sys_exit_programs)
    "${BINARIES[$k]}" --backend=ebpf -o /dev/null -- sleep 30 &
    tracer=$!
    sleep 0.3  # loaded and attached
    program=$(comm -13 <(echo "$before") <(sys_exit_programs) | head -1)
    [[ -n "$program" ]] || bench_die "cannot find the program of ${BINARIES[$k]}"
    "$SCRATCH/bpf_run_time" "$program" "$SCRATCH/syscall_tax" > "$SCRATCH/syscall_tax.run"
    echo "build$k $(tail -1 "$SCRATCH/syscall_tax.run")" >> "$RESULTS.bpf"  # after the loop's
    echo "build$k $("$SCRATCH/syscall_tax")" >> "$RESULTS"
    kill -TERM "$tracer"
    wait "$tracer" || true
  done
done
for ((k = 0; k < ${#BINARIES[@]}; ++k)); do echo "# build$k: ${BINARIES[$k]}"; done
printf "%-10s %24s %24s %24s\n" "ns/call" "getppid (+paired)" "open+close (+paired)" \
  "failed open (+paired)"
awk "$BENCH_AWK"'
  $1 == "untraced" { round++; for (i = 2; i <= 4; i++) base[round, i] = $i }
  { n[$1]++; for (i = 2; i <= 4; i++) { v[$1, i, n[$1]] = $i; d[$1, i, n[$1]] = $i - base[round, i] } }
  END {
    for (name in n) {
      line = sprintf("%-10s", name)
      for (i = 2; i <= 4; i++) {
        delete a; delete b
        for (k = 1; k <= n[name]; k++) { a[k] = v[name, i, k]; b[k] = d[name, i, k] }
        sort_numbers(a, n[name]); sort_numbers(b, n[name])
        line = line sprintf(" %15.0f (%+6.0f)", median(a, n[name]), median(b, n[name]))
      }
      print line
    }
  }' "$RESULTS" | sort
echo
echo "on_sys_exit's own run time (BPF statistics), median over the rounds"
awk "$BENCH_AWK"'
  { n[$1]++; v[$1, n[$1]] = $3; runs[$1] = $2 }
  END {
    for (name in n) {
      delete a
      for (k = 1; k <= n[name]; k++) a[k] = v[name, k]
      sort_numbers(a, n[name])
      printf "%-10s %8.1f ns per run  (%s runs in the last round; ns: %s)\n", name, median(a, n[name]), runs[name], joined(a, n[name], " %.1f")
    }
  }' "$RESULTS.bpf" | sort
