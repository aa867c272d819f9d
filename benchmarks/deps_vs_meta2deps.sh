#!/usr/bin/env bash
# `filemon-meta deps --format=meta2deps` against Debian's `python3 meta2deps.py`, whole
# processes, over the same 10,000 .meta files (benchmarks/meta_gen: 200 filemon records each, 4
# processes reading ~150 distinct sources under SRCTOP/src), with the arguments gendirdeps.mk
# passes (-R -H -O, MACHINE= SRCTOP= RELDIR= CURDIR=, @LIST). filemon-meta reads the files on
# every core (its default; also timed with --jobs 1), meta2deps.py on one. The two outputs are
# compared first. Then ROUNDS pairs run one after the other (hyperfine would run each command's
# rounds in a block): each pair's wall and user+system times, and the medians of the per-pair
# ratios, which cancel the drift of a shared machine.
#
# Usage: benchmarks/deps_vs_meta2deps.sh [WORKDIR]   (ROUNDS=11 by default; WORKDIR is removed)
# Needs: python3, Debian's bmake (/usr/share/bmake/mk-bmake/meta2deps.py).
set -euo pipefail
source "$(dirname "$0")/common.sh"
# A directory of this run's own (removed at exit): another run must not regenerate it mid-way.
work="$HOME/.cache/filemon-bench/deps_vs_meta2deps.$$"
bench_parse_args "WORKDIR=work" "$@"
trap 'rm -rf "$work"' EXIT
rounds="${ROUNDS:-11}"
m2d=/usr/share/bmake/mk-bmake/meta2deps.py
[ -r "$m2d" ] || bench_die "needs $m2d (apt-get install bmake)"
unset MACHINE MACHINE_ARCH SB_SRC SB_OBJROOT

bench_build //tools:filemon-meta //benchmarks:meta_gen_main
tool="$BENCH_BIN/tools/filemon-meta"
gen="$BENCH_BIN/benchmarks/meta_gen_main"

rm -rf "$work"
read -r meta objdir _ _ _ < <("$gen" "$work" 200 4 150 same)
[ -s "$meta" ] || { echo "deps_vs_meta2deps.sh: meta_gen wrote no $meta" >&2; exit 1; }
mkdir -p "$objdir/many"
awk -v n=10000 -v dir="$objdir/many" '{ line[NR] = $0 }
  END { for (i = 1; i <= n; i++) { f = dir "/t" i ".meta"
          for (j = 1; j <= NR; j++) print line[j] > f
          close(f) } }' "$meta"
(cd "$objdir/many" && seq 1 10000 | sed 's/^/t/;s/$/.meta/' > "$objdir/meta.list")
sed -i 's,^,many/,' "$objdir/meta.list"
args="-R app -H linux-x86_64 -O $work/obj MACHINE=amd64 SRCTOP=$work RELDIR=app CURDIR=$work/app @meta.list"
cd "$objdir"
ours="$("$tool" deps --format=meta2deps $args)"
theirs="$(python3 "$m2d" $args)"
[ "$ours" = "$theirs" ] || {
  echo "deps_vs_meta2deps.sh: the outputs differ" >&2
  diff <(echo "$ours") <(echo "$theirs") >&2 || true
  exit 1
}
echo "== 10,000 .meta files of $(wc -l < "$meta") lines; outputs equal ($(echo "$ours" | wc -l) lines); $(nproc) cores"

# One timed run: "WALL USER SYS" in seconds.
timed() {
  local TIMEFORMAT='%R %U %S'
  { time "$@" > /dev/null 2>&1; } 2>&1
}
ratios=()
cpu_ratios=()
ones=()
for i in $(seq 1 "$rounds"); do
  [ -s many/t10000.meta ] || { echo "deps_vs_meta2deps.sh: $objdir/many changed under us" >&2; exit 1; }
  read -r ow ou os < <(timed "$tool" deps --format=meta2deps $args)
  read -r pw pu ps < <(timed python3 "$m2d" $args)
  read -r jw ju js < <(timed "$tool" deps --format=meta2deps --jobs 1 $args)
  ones+=("$jw")
  r=$(echo "$pw / $ow" | bc -l)
  c=$(echo "($pu + $ps) / ($ou + $os)" | bc -l)
  ratios+=("$r")
  cpu_ratios+=("$c")
  printf 'round %2d: filemon-meta %6.3f s (cpu %.3f + %.3f)  meta2deps.py %6.3f s (cpu %.3f + %.3f)  wall ratio %5.1f  cpu ratio %5.1f\n' \
    "$i" "$ow" "$ou" "$os" "$pw" "$pu" "$ps" "$r" "$c"
done
printf 'median of per-pair ratios (meta2deps.py / filemon-meta): wall %.1fx, user+sys %.1fx; load average: %s\n' \
  "$(bench_median "${ratios[@]}")" "$(bench_median "${cpu_ratios[@]}")" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'filemon-meta --jobs 1 (for comparison), median wall: %.3f s\n' "$(bench_median "${ones[@]}")"
