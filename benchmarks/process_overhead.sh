#!/usr/bin/env bash
# What tracing adds to each process of one program: the program run untraced, with an empty
# LD_PRELOAD library (the floor for any interposer) and traced, interleaved round by round under
# one supervisor, with the median of the paired differences (see process_overhead.c). Finer than
# trace_overhead.sh: it shows a per-process cost of tens of microseconds, which a whole build's
# wall time hides in the noise. Results go in BENCHMARKS.md.
#
# usage: benchmarks/process_overhead.sh [--rounds N] [--backend preload|auto] [--library LIB]...
#                                       -- /ABSOLUTE/PROGRAM [ARGS...]
#   --rounds N      rounds (default 400)
#   --backend B     the supervisor's backend (default preload)
#   --library LIB   also run the program traced with LIB as the interposer (another build of
#                   libfilemon_preload.so) under the same supervisor; may be repeated
# Example: benchmarks/process_overhead.sh --rounds 800 -- /bin/true
# Scratch files live in $FILEMON_BENCH_DIR (default /tmp/filemon-bench). $FILEMON overrides the
# filemon binary.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=400
BACKEND=preload
LIBRARIES=()
PROGRAM=()
bench_parse_args "--rounds=ROUNDS --backend=BACKEND --library=LIBRARIES+ --=PROGRAM" "$@"
if [[ ${#PROGRAM[@]} -eq 0 || "${PROGRAM[0]}" != /* ]]; then
  bench_die "give the program as an absolute path after --"
fi

bench_scratch
bench_filemon
cc -O2 -o "$SCRATCH/process_overhead" "$REPO/benchmarks/process_overhead.c"
bench_empty_preload

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $ROUNDS interleaved rounds"
echo "# command: benchmarks/process_overhead.sh --rounds $ROUNDS --backend $BACKEND -- ${PROGRAM[*]}"
"$FILEMON" --backend="$BACKEND" -o "$SCRATCH/process_overhead.log" -- \
  "$SCRATCH/process_overhead" "$ROUNDS" clean "preload=$SCRATCH/libempty_preload.so" inherit \
  ${LIBRARIES[@]+"${LIBRARIES[@]/#/keep=}"} -- "${PROGRAM[@]}" 2>&1
