#!/usr/bin/env bash
# What bmake's meta mode costs on Linux with this library serving its filemon calls: a clean
# build of 20 small C files (one `cc -c` each, then a link), measured side by side. Every round
# runs each variant once, in a rotating order, after removing the objects and .meta files; the
# medians over the rounds are compared with Debian's bmake without meta mode. Results go in
# BENCHMARKS.md ("bmake meta mode with filemon").
#
# usage: benchmarks/bmake_meta_overhead.sh [--rounds N] [--jobs J] [--bmake PATH]
#   --bmake  the bmake built by scripts/bmake-filemon (default: build it now)
# Variants:
#   plain           /usr/bin/bmake (Debian's, no filemon), no meta mode
#   meta-nofilemon  our bmake, .MAKE.MODE = meta nofilemon (writes .meta files, no tracing)
#   meta-filemon    our bmake, .MAKE.MODE = meta (every command traced by the ptrace session)
# Scratch files live in $FILEMON_BENCH_DIR (default /tmp/filemon-bench)/bmake-meta.
set -euo pipefail

rounds=9
jobs=2
bmake=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --bmake) bmake=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bmake_meta_overhead.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
[[ -n "$bmake" ]] || bmake=$("$repo/scripts/bmake-filemon")
dir=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}/bmake-meta
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
for i in $(seq 1 20); do
  printf '#include <stdio.h>\n#include "h%d.h"\nint f%d(void) { return X%d; }\n' "$i" "$i" "$i" > "f$i.c"
  printf '#define X%d %d\n' "$i" "$i" > "h$i.h"
done
printf 'int main(void) { return 0; }\n' > main.c
cat > Makefile <<'EOF'
SRCS != echo *.c
OBJS = ${SRCS:.c=.o}
all: prog
prog: ${OBJS}
	cc -o prog ${OBJS}
.for s in ${SRCS}
${s:.c=.o}: ${s}
	cc -O0 -c ${s} -o ${.TARGET}
.endfor
EOF
printf '.MAKE.MODE = meta nofilemon curdirOk=yes\n.include "Makefile"\n' > nofilemon.mk
printf '.MAKE.MODE = meta curdirOk=yes\n.include "Makefile"\n' > filemon.mk

names=(plain meta-nofilemon meta-filemon)
commands=(
  "/usr/bin/bmake -r -j$jobs -f Makefile"
  "$bmake -r -j$jobs -f nofilemon.mk"
  "$bmake -r -j$jobs -f filemon.mk"
)
declare -a samples
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#names[@]}; k++)); do
    v=$(( (r + k) % ${#names[@]} ))
    rm -f ./*.o ./*.meta prog
    start=$(date +%s%N)
    ${commands[$v]} > /dev/null 2>&1 || { echo "${names[$v]} failed" >&2; exit 1; }
    end=$(date +%s%N)
    samples[$v]+="$(( (end - start) / 1000 )) "
  done
done
# The traced variant once more, untimed, to check that it did its job.
rm -f ./*.o ./*.meta prog
${commands[2]} > /dev/null 2>&1
[[ $(grep -c -- '-- filemon acquired metadata --' ./*.meta | grep -c ':1$') -eq 22 ]] ||
  { echo "meta-filemon did not write 22 .meta files with filemon sections" >&2; exit 1; }

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${samples[0]}" | median)
printf '%-16s %12s %8s   (median of %d rounds, -j%d, %s)\n' variant median_ms ratio "$rounds" "$jobs" "$(nproc) cores"
for ((v = 0; v < ${#names[@]}; v++)); do
  m=$(echo "${samples[$v]}" | median)
  awk -v n="${names[$v]}" -v m="$m" -v b="$base" 'BEGIN {printf "%-16s %12.1f %8.2f\n", n, m / 1000, m / b}'
done
