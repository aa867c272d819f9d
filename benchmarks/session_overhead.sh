#!/usr/bin/env bash
# What one traced command costs a caller of bmake's filemon API (filemon/backends/bmake_filemon.h)
# beyond running it untraced, in pairs (see session_overhead.c): the session's start, the
# child's set-up (auto: the exec hand-off), the supervisor thread, the records, the interposer
# in the command. Finer than bmake_meta_overhead.sh, which times whole bmake runs: with
# `--only`, counters such as `perf stat -e context-switches` or `perf trace -s` (system calls
# per thread) compare one variant with the other.
#
# usage: benchmarks/session_overhead.sh [--rounds N] [--backend auto|preload|ptrace]
#                                       [--only untraced|session] -- /ABSOLUTE/PROGRAM [ARGS...]
#   --rounds N   rounds (default 400)
#   --backend B  $FILEMON_BACKEND for the sessions (default auto)
#   --only V     run one variant N times and print nothing (for a counter wrapped around it:
#                $WRAP, e.g. WRAP='perf stat -e context-switches')
# Example: benchmarks/session_overhead.sh --rounds 1000 -- /bin/sh -c true
# Scratch files live in $FILEMON_BENCH_DIR (default /tmp/filemon-bench).
set -euo pipefail

rounds=400
backend=auto
only=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --only) only=(--only "$2"); shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "session_overhead.sh: unknown argument $1 (the program follows --)" >&2; exit 2 ;;
  esac
done
if [[ $# -eq 0 || "$1" != /* ]]; then
  echo "session_overhead.sh: give the program as an absolute path after --" >&2
  exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}
mkdir -p "$scratch"
(cd "$repo" && bazel build --config=opt //filemon/backends:libbmake-filemon.so \
  //filemon/backends/preload:libfilemon_preload.so \
  //filemon/backends/preload:filemon_preload_helper >&2)
bin=$(cd "$repo" && bazel info --config=opt bazel-bin 2>/dev/null)
lib="$scratch/session_overhead_lib"
rm -rf "$lib"
mkdir -p "$lib"
cp "$bin/filemon/backends/libbmake-filemon.so" "$lib/"
cc -O2 -I"$repo" -o "$scratch/session_overhead" "$repo/benchmarks/session_overhead.c" \
  -L"$lib" -lbmake-filemon -Wl,-rpath,"$lib"
# The interposer and the helper by name: a preload session that cannot find them would fall
# back to ptrace sessions without saying so.
export FILEMON_PRELOAD_DIR="$bin/filemon/backends/preload"
export FILEMON_BACKEND="$backend"
if [[ ${#only[@]} -eq 0 ]]; then
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# benchmarks/session_overhead.sh --rounds $rounds --backend $backend -- $*"
fi
${WRAP:-} "$scratch/session_overhead" "$rounds" ${only[@]+"${only[@]}"} -- "$@"
