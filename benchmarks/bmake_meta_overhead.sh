#!/usr/bin/env bash
# What bmake's meta mode costs on Linux with this library serving its filemon calls: a clean
# build of 20 small C files (one `cc -c` each, then a link), measured side by side. Every round
# runs each variant once, in a rotating order, after removing the objects and .meta files; the
# medians over the rounds are compared with Debian's bmake without meta mode. Results go in
# BENCHMARKS.md ("bmake meta mode with filemon").
#
# usage: benchmarks/bmake_meta_overhead.sh [--rounds N] [--jobs J] [--bmake PATH]
#                                          [--workload cc|true] [--compare PATH]
#   --bmake     the bmake built by scripts/bmake-filemon (default: build it now)
#   --compare   another such bmake (another commit's): adds the variant meta-auto-compare, and
#               the paired CPU difference per command of meta-auto against it (an A/B of two
#               commits in one run, interleaved like the rest)
#   --workload  cc: 21 `cc -O0 -c` and a link (default); true: the same targets whose commands
#               are `true` (what tracing costs per command, fixed part)
# As root, CPU is measured too (user + system of the whole tree, from the children's rusage, in
# microseconds), and for each traced variant the report adds the median over the rounds of its
# CPU minus meta-nofilemon's in the same round, divided by the 22 traced commands: what one
# traced command costs (on the true workload, the figure issue 21's 0.5 ms goal is about).
# Variants:
#   plain           /usr/bin/bmake (Debian's, no filemon), no meta mode
#   meta-nofilemon  our bmake, .MAKE.MODE = meta nofilemon (writes .meta files, no tracing)
#   meta-ptrace     our bmake, .MAKE.MODE = meta, every command traced by a ptrace session
#   meta-auto       the same with FILEMON_BACKEND=auto (the default: preload sessions)
# Scratch files live in $FILEMON_BENCH_DIR (default /tmp/filemon-bench)/bmake-meta.
set -euo pipefail
source "$(dirname "$0")/common.sh"

rounds=9
jobs=2
bmake=""
workload=cc
compare=""
bench_parse_args "--rounds=rounds --jobs=jobs --bmake=bmake --workload=workload --compare=compare" "$@"
[[ -n "$bmake" ]] || bmake=$("$REPO/scripts/bmake-filemon")
bench_scratch
dir=$SCRATCH/bmake-meta
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
for i in $(seq 1 20); do
  printf '#include <stdio.h>\n#include "h%d.h"\nint f%d(void) { return X%d; }\n' "$i" "$i" "$i" > "f$i.c"
  printf '#define X%d %d\n' "$i" "$i" > "h$i.h"
done
printf 'int main(void) { return 0; }\n' > main.c
case "$workload" in
  cc) compile='cc -O0 -c ${s} -o ${.TARGET}'; link='cc -o prog ${OBJS}' ;;
  true) compile='true ${s}'; link='true' ;;
  *) bench_die "unknown workload $workload" ;;
esac
cat > Makefile <<EOF
SRCS != echo *.c
OBJS = \${SRCS:.c=.o}
all: prog
prog: \${OBJS}
	$link
.for s in \${SRCS}
\${s:.c=.o}: \${s}
	$compile
.endfor
EOF
printf '.MAKE.MODE = meta nofilemon curdirOk=yes\n.include "Makefile"\n' > nofilemon.mk
printf '.MAKE.MODE = meta curdirOk=yes\n.include "Makefile"\n' > filemon.mk

names=(plain meta-nofilemon meta-ptrace meta-auto)
# Every variant starts through env(1), so that all pay its exec alike: the traced ones need it
# for FILEMON_BACKEND, and an exec costs about as much CPU here as a few traced commands (a
# variant without it looked cheaper by that much per round).
commands=(
  "env /usr/bin/bmake -r -j$jobs -f Makefile"
  "env $bmake -r -j$jobs -f nofilemon.mk"
  "env FILEMON_BACKEND=ptrace $bmake -r -j$jobs -f filemon.mk"
  "env FILEMON_BACKEND=auto $bmake -r -j$jobs -f filemon.mk"
)
traced_variants=(2 3)
if [[ -n "$compare" ]]; then
  [[ -x "$compare" ]] || bench_die "--compare: $compare is not an executable bmake"
  names+=(meta-auto-compare)
  commands+=("env FILEMON_BACKEND=auto $compare -r -j$jobs -f filemon.mk")
  traced_variants+=(4)
fi
# CPU time must include the tracer processes (ptrace), which are not bmake's children (auto's
# supervisor is a thread of bmake): as root, each run is the child of a shell that is pid 1 of
# a new pid namespace, which reaps every orphan, so the children's rusage of the process that
# waits for it holds the CPU of the whole tree (in microseconds: /usr/bin/time's 10 ms steps are
# coarser than a traced command). Elsewhere only wall time is measured.
cpu=0
if [[ $(id -u) -eq 0 ]] && unshare --fork --pid true 2>/dev/null && command -v python3 > /dev/null; then
  cpu=1
fi
# timed COMMAND: runs COMMAND (a shell command line) in a new pid namespace; prints its wall
# time and the CPU time (user + system) of its whole tree, in seconds; fails as it does.
timed() {
  python3 -c '
import resource, subprocess, sys, time
def cpu():  # what this process inherited counts too (exec keeps it): only the difference is ours
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime
before, start = cpu(), time.monotonic()
rc = subprocess.call(["unshare", "--fork", "--pid", "bash", "-c", sys.argv[1]])
wall = time.monotonic() - start
print("%.6f %.6f" % (wall, cpu() - before))
sys.exit(rc)' "$1"
}
declare -a wall_samples cpu_samples
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#names[@]}; k++)); do
    v=$(( (r + k) % ${#names[@]} ))
    rm -f ./*.o ./*.meta prog
    if [[ $cpu -eq 1 ]]; then
      timed "${commands[$v]} > /dev/null 2>&1" > time.out || { echo "${names[$v]} failed" >&2; exit 1; }
      read -r e c < time.out
      wall_samples[$v]+="$e "
      cpu_samples[$v]+="$c "
    else
      start=$(date +%s%N)
      ${commands[$v]} > /dev/null 2>&1 || { echo "${names[$v]} failed" >&2; exit 1; }
      end=$(date +%s%N)
      wall_samples[$v]+="$(awk -v d=$(( end - start )) 'BEGIN {print d / 1e9}') "
    fi
  done
done
# The traced variants once more, untimed, to check that they did their job.
traced=22  # commands: one per .meta file
for v in "${traced_variants[@]}"; do
  rm -f ./*.o ./*.meta prog
  ${commands[$v]} > /dev/null 2>&1
  [[ $(grep -c -- '^# Bye bye$' ./*.meta | grep -c ':1$') -eq $traced ]] ||
    { echo "${names[$v]} did not write $traced .meta files with complete filemon sections" >&2; exit 1; }
done

printf '%-18s %10s %7s %10s %7s   (%s: medians of %d rounds, -j%d, %s cores)\n' \
  variant wall_s ratio cpu_s ratio "$workload" "$rounds" "$jobs" "$(nproc)"
# The samples are words of one string per variant.
wall_base=$(bench_median ${wall_samples[0]})
cpu_base=$(bench_median ${cpu_samples[0]:-0})
for ((v = 0; v < ${#names[@]}; v++)); do
  w=$(bench_median ${wall_samples[$v]})
  c=$(bench_median ${cpu_samples[$v]:-0})
  awk -v n="${names[$v]}" -v w="$w" -v wb="$wall_base" -v c="$c" -v cb="$cpu_base" \
    'BEGIN {printf "%-18s %10.3f %7.2f %10.3f %7s\n", n, w, w / wb, c, (cb > 0 ? sprintf("%.2f", c / cb) : "-")}'
done
[[ $cpu -eq 1 ]] || exit 0
# Per traced command, paired by round: each traced variant against meta-nofilemon (index 1),
# and with --compare, meta-auto (3) against meta-auto-compare (4).
pairs=()
for v in "${traced_variants[@]}"; do pairs+=("$v 1"); done
[[ -z "$compare" ]] || pairs+=("3 4")
for pair in "${pairs[@]}"; do
  read -r v b <<< "$pair"
  awk -v n="${names[$v]}" -v bn="${names[$b]}" -v t="$traced" -v a="${cpu_samples[$v]}" \
    -v b="${cpu_samples[$b]}" "$BENCH_AWK"'
    BEGIN {
      k = split(a, x, " "); split(b, y, " ")
      for (i = 1; i <= k; i++) d[i] = (x[i] - y[i]) / t * 1e6
      sort_numbers(d, k)
      printf "%s - %s, CPU per traced command: %.0f us (median of %d paired rounds, " \
        "95%% CI %s us; %.0f to %.0f)\n", n, bn, median(d, k), k, median_ci(d, k, "%.0f"), d[1],
        d[k]
    }'
done
