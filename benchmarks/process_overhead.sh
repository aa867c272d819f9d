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

ROUNDS=400
BACKEND=preload
LIBRARIES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --library) LIBRARIES+=("keep=$2"); shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "process_overhead.sh: unknown argument $1 (the program follows --)" >&2; exit 2 ;;
  esac
done
if [[ $# -eq 0 || "$1" != /* ]]; then
  echo "process_overhead.sh: give the program as an absolute path after --" >&2
  exit 2
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}
mkdir -p "$SCRATCH"
if [[ -z "${FILEMON:-}" ]]; then
  (cd "$REPO" && bazel build --config=opt //tools:filemon >&2)
  FILEMON=$(cd "$REPO" && bazel info --config=opt bazel-bin 2>/dev/null)/tools/filemon
fi
cc -O2 -o "$SCRATCH/process_overhead" "$REPO/benchmarks/process_overhead.c"
echo 'int filemon_bench_empty_preload(void) { return 0; }' |
  cc -O2 -shared -fPIC -x c -o "$SCRATCH/libempty_preload.so" -

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $ROUNDS interleaved rounds"
echo "# command: benchmarks/process_overhead.sh --rounds $ROUNDS --backend $BACKEND -- $*"
"$FILEMON" --backend="$BACKEND" -o "$SCRATCH/process_overhead.log" -- \
  "$SCRATCH/process_overhead" "$ROUNDS" clean "preload=$SCRATCH/libempty_preload.so" inherit \
  ${LIBRARIES[@]+"${LIBRARIES[@]}"} -- "$@" 2>&1
