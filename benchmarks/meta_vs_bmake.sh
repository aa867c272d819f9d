#!/usr/bin/env bash
# The same out-of-date decision by `filemon-meta check` and by Debian's `bmake -n` (meta mode)
# on one generated .meta of 200,000 filemon records (4,000 processes, ~5,000 distinct existing
# source files), up to date and with one newer source (the one read last), timed as whole
# processes side by side with hyperfine (`filemon-meta check` as run by default, every core, and
# with --jobs 1), and next to them benchmarks/stat_floor.c, the least any such check costs (a
# process that maps the file and stat(2)s each distinct absolute R/E path once, nothing else);
# then `filemon-meta check` over 10,000 small .meta files with one thread and with every core.
#
# Usage: benchmarks/meta_vs_bmake.sh [WORKDIR]
#   WORKDIR (default ~/.cache/filemon-bench/meta_vs_bmake) must not be under /tmp, /var/tmp,
#   /dev, /etc or /proc: bmake ignores files there, which would make its job trivial.
# Needs: bmake, hyperfine. Prints hyperfine's tables; the figures go to BENCHMARKS.md.
# RUNS (default 30) and RUNS_MANY (default 10): hyperfine's runs per command. With
# HYPERFINE_JSON=PREFIX, hyperfine also writes PREFIX-up-to-date.json, PREFIX-newer.json and
# PREFIX-many.json (benchmarks/run_all.sh makes its tables from them).
set -euo pipefail
source "$(dirname "$0")/common.sh"
work="$HOME/.cache/filemon-bench/meta_vs_bmake"
bench_parse_args "WORKDIR=work" "$@"
case "$work" in
  /tmp*|/var/tmp*|/dev*|/etc*|/proc*|/var/run*|/run*)
    bench_die "$work is under a path bmake ignores; pick another WORKDIR" ;;
esac
for tool in bmake hyperfine; do
  command -v "$tool" >/dev/null || bench_die "needs $tool"
done
unset TMPDIR MAKEFLAGS MAKEOBJDIR MAKEOBJDIRPREFIX
runs="${RUNS:-30}"
export_json() { [ -z "${HYPERFINE_JSON:-}" ] || echo "--export-json ${HYPERFINE_JSON}-$1.json"; }

bench_build //tools:filemon-meta //benchmarks:meta_gen_main
mkdir -p "$HOME/.cache/filemon-bench"
floor="$HOME/.cache/filemon-bench/stat_floor"
cc -O2 -o "$floor" "$REPO/benchmarks/stat_floor.c"
meta_tool="$BENCH_BIN/tools/filemon-meta"
gen="$BENCH_BIN/benchmarks/meta_gen_main"

for variant in up-to-date newer; do
  rm -rf "$work"
  read -r meta objdir target newer_file records < <("$gen" "$work" 200000 4000 5000 \
      "$([ "$variant" = newer ] && echo newer || echo same)")
  printf '.MAKE.MODE= meta curdirOk=yes\n%s:\n\tsh build.sh\n' "$target" > "$objdir/Makefile"
  touch -d @1599999000 "$objdir/Makefile"
  cd "$objdir"
  bmake_says="$(bmake -r -n -dM "$target" 2>&1 | grep -c "is up to date" || true)"
  ours="$("$meta_tool" check --compat 20200710 --cmd 'sh build.sh' "$meta" | head -1 || true)"
  echo "== $variant: $records records, $(wc -c < "$meta") bytes; bmake up-to-date=$bmake_says; filemon-meta: $ours"
  if [ "$variant" = up-to-date ] && { [ "$bmake_says" != 1 ] || [ "$ours" != up-to-date ]; }; then
    echo "meta_vs_bmake.sh: the two disagree" >&2; exit 1
  fi
  if [ "$variant" = newer ] && { [ "$bmake_says" != 0 ] || [ "$ours" != "out-of-date: newer" ]; }; then
    echo "meta_vs_bmake.sh: the two disagree" >&2; exit 1
  fi
  echo "stat floor: $("$floor" "$meta")"
  hyperfine -N -i --warmup 3 --runs "$runs" $(export_json "$variant") \
    -n "bmake -n ($variant)" "bmake -r -n -dM $target" \
    -n "filemon-meta check ($variant)" \
    "$meta_tool check --compat 20200710 --cmd 'sh build.sh' $meta" \
    -n "filemon-meta check --jobs 1 ($variant)" \
    "$meta_tool check --compat 20200710 --jobs 1 --cmd 'sh build.sh' $meta" \
    -n "stat floor ($variant)" "$floor $meta"
  cd "$REPO"
done

# 10,000 small .meta files (200 records each) checked at once.
rm -rf "$work"
read -r meta objdir target _ _ < <("$gen" "$work" 200 4 150 same)
mkdir -p "$objdir/many"
awk -v n=10000 -v dir="$objdir/many" '{ line[NR] = $0 }
  END { for (i = 1; i <= n; i++) { f = dir "/t" i ".meta"
          for (j = 1; j <= NR; j++) { l = line[j]; if (l ~ /^TARGET /) l = "TARGET many/t" i; print l > f }
          close(f) } }' "$meta"
(cd "$objdir/many" && seq 1 10000 | sed 's/^/t/' | xargs touch -d @1600000100)
echo "== 10,000 .meta files of $(wc -l < "$meta") lines"
cd "$objdir"
stale="$("$meta_tool" check --cmd 'sh build.sh' many/*.meta | awk '!/: up-to-date$/' | wc -l)"
[ "$stale" = 0 ] || { echo "meta_vs_bmake.sh: $stale of the 10,000 not up to date" >&2; exit 1; }
hyperfine -N --warmup 1 --runs "${RUNS_MANY:-10}" $(export_json many) \
  -n "check 10,000 files, --jobs 1" \
  "sh -c '$meta_tool check --jobs 1 --cmd \"sh build.sh\" many/*.meta > /dev/null'" \
  -n "check 10,000 files, every core" \
  "sh -c '$meta_tool check --cmd \"sh build.sh\" many/*.meta > /dev/null'"
