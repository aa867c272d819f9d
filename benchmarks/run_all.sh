#!/usr/bin/env bash
# Reruns every figure of BENCHMARKS.md and writes them as Markdown tables, each preceded by the
# exact command that produced it, the date, the commit, the machine (cores, CPU model) and the
# load average when it started. Every section runs its variants side by side (interleaved
# rounds, or pairs), as the script or binary it calls does; sections run one after the other.
#
# usage: benchmarks/run_all.sh [--quick] [--only NAME,...] [--rounds NAME=N,...]
#                              [--out FILE] [--update BENCHMARKS.md] [--list]
#   --quick        a smoke run: one or a few rounds per section (figures meaningless)
#   --only         run only these sections (see --list)
#   --rounds       rounds (or repetitions) per section, e.g. --rounds trace=21,deps=5
#   --out FILE     the report (default $FILEMON_BENCH_DIR/report.md)
#   --update FILE  also replace, in FILE, the text between `<!-- run_all: NAME -->` and
#                  `<!-- /run_all: NAME -->` with section NAME's new tables (only sections that
#                  ran; a section that could not run keeps its old figures). Not with --quick.
#   --list         print the sections and their default rounds, and exit
# A section that cannot run here (no /dev/filemon, no bmake, no network for Debian's bmake
# source...) says why in the report and the next one runs. Scratch files (sources, logs, the
# raw output of every section: NAME.log) live in $FILEMON_BENCH_DIR (default
# /tmp/filemon-bench); the .meta workloads in ~/.cache/filemon-bench (bmake ignores /tmp).
# Exit status: 0 if every selected section ran, 1 otherwise.
set -uo pipefail
source "$(dirname "$0")/common.sh"

export FILEMON_BENCH_DIR=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}
RAW="$FILEMON_BENCH_DIR/run_all"
SECTIONS=(format parse trace ebpf probes probe-floor process meta-vs-bmake meta-bench bmake-meta
  deps run-and-record)
# Rounds per section (probes counts, its "rounds" are unused).
declare -A ROUNDS=([format]=5 [parse]=5 [trace]=15 [ebpf]=9 [probes]=1 [probe-floor]=5 [process]=800 [meta-vs-bmake]=30
  [meta-bench]=3 [bmake-meta]=11 [deps]=11 [run-and-record]=500)
declare -A QUICK=([format]=1 [parse]=1 [trace]=1 [ebpf]=1 [probes]=1 [probe-floor]=1 [process]=20 [meta-vs-bmake]=3
  [meta-bench]=1 [bmake-meta]=1 [deps]=1 [run-and-record]=10)
quick=0
only=""
out=""
update=""
set_rounds=""
list=0
bench_parse_args "--quick=quick! --only=only --rounds=set_rounds --out=out --update=update
  --list=list!" "$@"
if [[ $list -eq 1 ]]; then
  for s in "${SECTIONS[@]}"; do echo "$s ${ROUNDS[$s]}"; done
  exit 0
fi
[[ -z "$update" ]] || update=$(cd "$(dirname "$update")" && pwd)/$(basename "$update")
if [[ $quick -eq 1 ]]; then
  [[ -z "$update" ]] || { echo "run_all.sh: --quick figures do not go in $update" >&2; exit 2; }
  for s in "${SECTIONS[@]}"; do ROUNDS[$s]=${QUICK[$s]}; done
fi
IFS=, read -r -a pairs <<< "$set_rounds"
for p in ${pairs[@]+"${pairs[@]}"}; do
  [[ -n "${ROUNDS[${p%%=*}]:-}" && "${p#*=}" =~ ^[1-9][0-9]*$ ]] ||
    { echo "run_all.sh: --rounds $p: not SECTION=N" >&2; exit 2; }
  ROUNDS[${p%%=*}]=${p#*=}
done
selected=("${SECTIONS[@]}")
if [[ -n "$only" ]]; then
  IFS=, read -r -a selected <<< "$only"
  for s in "${selected[@]}"; do
    [[ -n "${ROUNDS[$s]:-}" ]] || { echo "run_all.sh: no section $s (try --list)" >&2; exit 2; }
  done
fi
out=${out:-$FILEMON_BENCH_DIR/report.md}
mkdir -p "$RAW" "$(dirname "$out")"
cd "$REPO" || exit 2

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT with uncommitted changes"
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

# stamp COMMAND: the lines that precede a table (called right before COMMAND runs).
stamp() {
  printf '```sh\n%s\n```\n\n' "$1"
  printf '_%s, commit %s, %s cores (%s), load average at start %s._\n\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$COMMIT" "$(nproc)" "${CPU_MODEL:-unknown CPU}" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# run NAME COMMAND: stamps COMMAND into the section's text, runs it from the repository root
# with its output in $RAW/NAME.log (appended), and fails with the log's tail as the reason.
run() {
  local name=$1 cmd=$2
  stamp "$cmd" >> "$RAW/$name.md"
  echo "run_all.sh: [$name] $cmd" >&2
  if ! (eval "$cmd") >> "$RAW/$name.log" 2>&1; then
    why "$name" "\`$cmd\` failed: $(tail -3 "$RAW/$name.log" | tr '\n' ' ' | cut -c1-400)"
    return 1
  fi
}
why() { echo "$2" > "$RAW/$1.why"; }

# Google Benchmark JSON -> a table of the medians (or the single run), with the CV.
gbench_table() {
  python3 - "$1" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
rows, cv = [], {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") == "cv":
        cv[b["run_name"]] = b["cpu_time"]
    elif b.get("aggregate_name", "median") == "median":
        rows.append(b)
def rate(v, unit):
    for k, s in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")):
        if v >= k: return "%.3g %s%s/s" % (v / k, s, unit)
    return "%.3g %s/s" % (v, unit)
def duration(v, unit):
    v *= {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    for k, s in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
        if v >= k: return "%.3g %s" % (v / k, s)
    return "%.3g ns" % v
print("| benchmark | real time | CPU time | items/s | bytes/s | CV (CPU) |")
print("|---|---|---|---|---|---|")
for b in rows:
    name = b.get("run_name", b["name"])
    u = b.get("time_unit", "ns")
    print("| %s | %s | %s | %s | %s | %s |" % (
        name, duration(b["real_time"], u), duration(b["cpu_time"], u),
        rate(b["items_per_second"], "") if "items_per_second" in b else "",
        rate(b["bytes_per_second"], "B") if "bytes_per_second" in b else "",
        "%.1f%%" % (100 * cv[name]) if name in cv else ""))
PY
}

# hyperfine JSON -> mean ± σ, user + system, and the first command's mean over each mean.
hyperfine_table() {
  python3 - "$1" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
base = res[0]["mean"]
print("| command | wall, mean ± σ | user + sys | %s / this |" % res[0]["command"])
print("|---|---|---|---|")
for r in res:
    print("| %s | %.1f ± %.1f ms | %.1f + %.1f ms | %.2fx |" % (
        r["command"], 1e3 * r["mean"], 1e3 * (r["stddev"] or 0), 1e3 * r["user"],
        1e3 * r["system"], base / r["mean"]))
PY
}

# Raw text as a fenced block: the fallback when a table cannot be read from it.
fenced() { printf '```\n'; cat; printf '```\n'; }

section_gbench() {  # section_gbench NAME TARGET EXTRA_FLAGS
  local name=$1 target=$2 json="$RAW/$1.json"
  local reps=${ROUNDS[$name]} flags="--benchmark_out=$json --benchmark_out_format=json"
  if [[ $reps -gt 1 ]]; then
    flags="--benchmark_repetitions=$reps --benchmark_enable_random_interleaving=true"
    flags="$flags --benchmark_report_aggregates_only=true --benchmark_out=$json"
    flags="$flags --benchmark_out_format=json"
  fi
  [[ $quick -eq 1 ]] && flags="--benchmark_min_time=0.05 $flags"
  run "$name" "bazel build --config=opt //benchmarks:$target && bazel-bin/benchmarks/$target $3 $flags" ||
    return 1
  gbench_table "$json" >> "$RAW/$name.md"
}
section_format() { section_gbench format format_benchmark ""; }
section_parse() { section_gbench parse parse_benchmark ""; }
section_meta-bench() {
  section_gbench meta-bench meta_benchmark "$([[ $quick -eq 1 ]] || echo --benchmark_min_time=2)"
}

section_trace() {
  local variants=untraced,ptrace,ptrace-probes,floor,preload,preload-probes,auto,auto-probes
  variants=$variants,strace,strace-seccomp,preload-floor
  command -v strace >/dev/null || variants=${variants/,strace,strace-seccomp/}
  [[ -e /dev/filemon ]] && variants=$variants,kernel
  command -v strace >/dev/null || echo "(strace is not installed: its variants are left out.)" \
    >> "$RAW/trace.md"
  [[ -e /dev/filemon ]] || echo "(No /dev/filemon here: the kernel backend is not measured.)" \
    >> "$RAW/trace.md"
  # The LD_PRELOAD peer, when built (BENCHMARKS.md says how); trace_overhead.sh says why not.
  if [[ -n "${FSATRACE:-}" ]]; then
    variants=$variants,fsatrace
  else
    echo "(FSATRACE is not set: the fsatrace peer is not measured.)" >> "$RAW/trace.md"
  fi
  run trace "benchmarks/trace_overhead.sh --rounds ${ROUNDS[trace]} --workloads gcc,make --variants $variants" ||
    return 1
  # trace_overhead.sh prints per workload three blocks (wall, CPU, paired wall), and a fourth
  # for the -probes variants (paired with the same backend without --probes): one row each.
  awk '
    /^workload .*, --probes paired.*CPU time/ { mode = "probes_cpu"; w = $2; next }
    /^workload .*, --probes paired/ { mode = "probes"; w = $2; next }
    /^workload .*, CPU time paired/ { mode = "paired_cpu"; w = $2; next }
    /^workload .*, wall time paired/ { mode = "paired"; w = $2; next }
    /^workload .*, wall time/ { mode = "wall"; w = $2; next }
    /^workload .*, CPU time/ { mode = "cpu"; w = $2; next }
    /^variant|^#|^$/ { next }
    mode != "" {
      sub(/,$/, "", w)
      if (!((w, $1) in seen)) { seen[w, $1] = 1; order[w] = order[w] " " $1 }
      if (!(w in wseen)) { wseen[w] = 1; ws[++nw] = w }
      if (mode == "paired") paired[w, $1] = $2
      else if (mode == "paired_cpu") paired_cpu[w, $1] = $2
      else if (mode == "probes") plus[w, $1] = $2
      else if (mode == "probes_cpu") plus_cpu[w, $1] = $2
      else { med[mode, w, $1] = $2; rat[mode, w, $1] = $3 }
    }
    END {
      for (i = 1; i <= nw; ++i) {
        w = ws[i]
        printf "%s| workload %s: variant | wall median | wall ratio | paired wall ratio | paired CPU ratio | --probes, paired: + wall | --probes, paired: + CPU | CPU median | CPU ratio |\n", (i > 1 ? "\n" : ""), w
        print "|---|---|---|---|---|---|---|---|---|"
        n = split(order[w], vs, " ")
        for (j = 1; j <= n; ++j) {
          v = vs[j]
          printf "| %s | %s s | %s | %s | %s | %s | %s | %s s | %s |\n", v, med["wall", w, v],
            rat["wall", w, v], ((w, v) in paired ? paired[w, v] : "-"),
            ((w, v) in paired_cpu ? paired_cpu[w, v] : "-"), ((w, v) in plus ? plus[w, v] : "-"),
            ((w, v) in plus_cpu ? plus_cpu[w, v] : "-"), med["cpu", w, v], rat["cpu", w, v]
        }
      }
    }' "$RAW/trace.log" >> "$RAW/trace.md"
}

# The ebpf backend beside ptrace, preload and its bpftrace peer; needs root and BPF. Its tables
# are trace_overhead.sh's own, with the lost-record count of every ebpf run and the start-up.
section_ebpf() {
  local variants=untraced,ebpf,ptrace,preload
  command -v bpftrace >/dev/null && variants=$variants,bpftrace
  bench_build //tools:filemon 2>/dev/null
  if ! "$BENCH_BIN/tools/filemon" --backend=ebpf \
      -o /dev/null -- /bin/true 2> "$RAW/ebpf.why.tmp"; then
    why ebpf "the ebpf backend cannot run here: $(cat "$RAW/ebpf.why.tmp")"
    return 1
  fi
  run ebpf "benchmarks/trace_overhead.sh --rounds ${ROUNDS[ebpf]} --workloads gcc,make --variants $variants" ||
    return 1
  { echo '```text'; sed -n '/^workload/,$p' "$RAW/ebpf.log"; echo '```'; } >> "$RAW/ebpf.md"
}

section_probes() {
  run probes "benchmarks/probe_volume.sh --workloads gcc,make" || return 1
  {
    echo '| workload | `N` lines, ptrace (one per process and path) | `N` lines, preload | failed lookups without that rule (strace) | distinct (pid, path) among them (strace) | `R` lines (ptrace), for scale |'
    echo '|---|---|---|---|---|---|'
    sed -n 's/^\(.*\): N lines ptrace \([0-9]*\), preload \([0-9]*\) (R lines \([0-9]*\)); failed lookups without the rule \(.*\), distinct (pid, path) by strace \(.*\)$/| `\1` | \2 | \3 | \5 | \6 | \4 |/p' \
      "$RAW/probes.log"
  } >> "$RAW/probes.md"
  grep -q '^| `' "$RAW/probes.md" || grep ': N lines' "$RAW/probes.log" | fenced >> "$RAW/probes.md"
}

# What --probes must add to ptrace at least (the stat family's calls x one stop), against the
# goal and the measured addition: the script's own lines.
section_probe-floor() {
  run probe-floor "benchmarks/probe_floor.sh --rounds ${ROUNDS[probe-floor]}" || return 1
  grep -E '^(stat-family|one stop|floor|goal|measured)' "$RAW/probe-floor.log" | fenced \
    >> "$RAW/probe-floor.md"
}

process_table() {  # the wall, CPU and fault blocks of process_overhead.c, one row per variant
  awk '
    /^wall time/ { mode = "wall"; next }
    /^CPU time/ { mode = "cpu"; next }
    /^minor page faults/ { mode = "faults"; next }
    mode != "" && / median / {
      v = $1; sub(/^preload=.*/, "empty LD_PRELOAD library", v)
      sub(/^clean$/, "untraced", v); sub(/^inherit$/, "traced", v)
      if (!(v in seen)) { seen[v] = 1; vs[++n] = v }
      d = $0; sub(/.*paired difference +/, "", d); gsub(/ +/, " ", d)
      med[mode, v] = $3; diff[mode, v] = d
    }
    END {
      print "| variant | wall median | wall, paired difference | CPU median | CPU, paired difference | minor faults | faults, paired difference |"
      print "|---|---|---|---|---|---|---|"
      for (i = 1; i <= n; ++i)
        printf "| %s | %s us | %s | %s us | %s | %s | %s |\n", vs[i], med["wall", vs[i]],
          diff["wall", vs[i]], med["cpu", vs[i]], diff["cpu", vs[i]], med["faults", vs[i]],
          diff["faults", vs[i]]
    }'
}
section_process() {
  local backend ok=0
  for backend in preload auto; do
    : > "$RAW/process-$backend.log"
    stamp "benchmarks/process_overhead.sh --rounds ${ROUNDS[process]} --backend $backend -- /bin/true" \
      >> "$RAW/process.md"
    echo "run_all.sh: [process] --backend $backend" >&2
    if benchmarks/process_overhead.sh --rounds "${ROUNDS[process]}" --backend "$backend" -- /bin/true \
        > "$RAW/process-$backend.log" 2>&1; then
      process_table < "$RAW/process-$backend.log" >> "$RAW/process.md"
      echo >> "$RAW/process.md"
    else
      echo "(failed: $(tail -2 "$RAW/process-$backend.log" | tr '\n' ' '))" >> "$RAW/process.md"
      ok=1
    fi
  done
  cat "$RAW"/process-*.log >> "$RAW/process.log"
  [[ $ok -eq 0 ]] || why process "a process_overhead.sh run failed (see above)"
  return $ok
}

section_meta-vs-bmake() {
  command -v bmake >/dev/null || { why meta-vs-bmake "no bmake (apt-get install bmake)"; return 1; }
  command -v hyperfine >/dev/null || { why meta-vs-bmake "no hyperfine"; return 1; }
  rm -f "$RAW"/meta-vs-bmake-*.json
  run meta-vs-bmake "HYPERFINE_JSON=$RAW/meta-vs-bmake RUNS=${ROUNDS[meta-vs-bmake]} RUNS_MANY=$(( (${ROUNDS[meta-vs-bmake]} + 5) / 6 )) benchmarks/meta_vs_bmake.sh" ||
    return 1
  local part
  for part in up-to-date newer many; do
    [[ -f "$RAW/meta-vs-bmake-$part.json" ]] || continue
    grep -E "^== ($part|10,000)" "$RAW/meta-vs-bmake.log" | head -1 | sed 's/^== //;s/$/\n/' \
      >> "$RAW/meta-vs-bmake.md"
    hyperfine_table "$RAW/meta-vs-bmake-$part.json" >> "$RAW/meta-vs-bmake.md"
    # The floor's own count of its stat calls, printed after the part's "== PART:" line.
    awk -v part="$part:" '/^== / { now = $2 } /^stat floor:/ && now == part { print "\n" $0 }' \
      "$RAW/meta-vs-bmake.log" >> "$RAW/meta-vs-bmake.md"
    echo >> "$RAW/meta-vs-bmake.md"
  done
}

section_bmake-meta() {
  local bmake
  if ! bmake=$(scripts/bmake-filemon 2>> "$RAW/bmake-meta.log"); then
    why bmake-meta "scripts/bmake-filemon could not build bmake: $(tail -2 "$RAW/bmake-meta.log" | tr '\n' ' ')"
    return 1
  fi
  local w
  for w in cc true; do
    : > "$RAW/bmake-meta-$w.log"
    local cmd="benchmarks/bmake_meta_overhead.sh --rounds ${ROUNDS[bmake-meta]} --bmake \"\$(scripts/bmake-filemon)\" --workload $w"
    stamp "$cmd" >> "$RAW/bmake-meta.md"
    echo "run_all.sh: [bmake-meta] $cmd" >&2
    benchmarks/bmake_meta_overhead.sh --rounds "${ROUNDS[bmake-meta]}" --bmake "$bmake" \
      --workload "$w" > "$RAW/bmake-meta-$w.log" 2>&1 ||
      { why bmake-meta "$w workload failed: $(tail -2 "$RAW/bmake-meta-$w.log" | tr '\n' ' ')"; return 1; }
    cat "$RAW/bmake-meta-$w.log" >> "$RAW/bmake-meta.log"
    awk 'NR == 1 { match($0, /\(.*\)/); print "| variant (" substr($0, RSTART + 1, RLENGTH - 2) ") | wall s | wall ratio | CPU s | CPU ratio |"
                   print "|---|---|---|---|---|"; next }
         NF == 5 { print "| " $1 " | " $2 " | " $3 " | " $4 " | " $5 " |" }' \
      "$RAW/bmake-meta-$w.log" >> "$RAW/bmake-meta.md"
    echo >> "$RAW/bmake-meta.md"
  done
}

section_deps() {
  [[ -r /usr/share/bmake/mk-bmake/meta2deps.py ]] ||
    { why deps "no /usr/share/bmake/mk-bmake/meta2deps.py (apt-get install bmake)"; return 1; }
  run deps "ROUNDS=${ROUNDS[deps]} benchmarks/deps_vs_meta2deps.sh" || return 1
  # Rounds: "filemon-meta W s (cpu U + S)  meta2deps.py W s (cpu U + S) ...": medians of each.
  awk '
    function med(a, n,   i, j, x) {
      for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
      return a[int((n + 1) / 2)]
    }
    /^round/ {
      for (i = 1; i <= NF; ++i) {
        if ($i == "filemon-meta" && $(i + 2) == "s") { ++n; ow[n] = $(i + 1); oc[n] = $(i + 4) + $(i + 6) }
        if ($i == "meta2deps.py" && $(i + 2) == "s") { pw[n] = $(i + 1); pc[n] = $(i + 4) + $(i + 6) }
      }
    }
    /^== / { sub(/^== /, ""); caption = $0 }
    /^median|^filemon-meta --jobs/ { notes = notes "- " $0 "\n" }
    END {
      if (caption != "") print caption "\n"
      print "| command | wall, median | user + sys, median |"
      print "|---|---|---|"
      printf "| `filemon-meta deps --format=meta2deps` | %.3f s | %.3f s |\n", med(ow, n), med(oc, n)
      printf "| `python3 meta2deps.py` | %.3f s | %.3f s |\n\n%s", med(pw, n), med(pc, n), notes
    }' "$RAW/deps.log" >> "$RAW/deps.md"
}

section_run-and-record() {
  # One table; a stamped command before each group of its rows. null traces no process: its
  # rounds are cheap and its difference tight, so it gets four times the rounds.
  local bench="bazel-bin/benchmarks/run_and_record_benchmark" r=${ROUNDS[run-and-record]} dir
  local -a cmds=("$bench --backend null --rounds $((4 * r)) --dir $FILEMON_BENCH_DIR")
  [[ -d /dev/shm ]] && cmds+=("$bench --backend null --rounds $((4 * r)) --dir /dev/shm")
  cmds+=("$bench --backend ptrace --backend preload --rounds $r --dir $FILEMON_BENCH_DIR /bin/true")
  bazel build --config=opt //benchmarks:run_and_record_benchmark >> "$RAW/run-and-record.log" 2>&1 ||
    { why run-and-record "bazel build --config=opt //benchmarks:run_and_record_benchmark failed"; return 1; }
  local c
  for c in "${cmds[@]}"; do
    : > "$RAW/rr.log"
    stamp "bazel build --config=opt //benchmarks:run_and_record_benchmark && $c" >> "$RAW/run-and-record.md"
    echo "run_all.sh: [run-and-record] $c" >&2
    $c > "$RAW/rr.log" 2>&1 || { why run-and-record "\`$c\` failed: $(tail -2 "$RAW/rr.log")"; return 1; }
    cat "$RAW/rr.log" >> "$RAW/run-and-record.log"
    dir=${c#*--dir }; dir=${dir%% *}
    echo "| backend (\`.meta\` in $dir) | bare \`Run()\` | \`RunAndRecord()\` | paired difference (p25, p75) |"
    echo "|---|---|---|---|"
    sed -n 's/^\([a-z]*\) *rounds [0-9]*  bare Run() \([0-9]*\) us  RunAndRecord() \([0-9]*\) us  paired difference \(.*\) us (p25 \(.*\), p75 \(.*\))$/| \1 | \2 us | \3 us | \4 us (\5, \6) |/p' \
      "$RAW/rr.log"
    echo
  done >> "$RAW/run-and-record.md"
}

# The report: one part per section, with its marker comment so that it can be pasted or
# spliced into BENCHMARKS.md.
{
  echo "# Benchmark report ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT)"
  echo
  echo "\`benchmarks/run_all.sh $([[ $quick -eq 1 ]] && echo '--quick ')${only:+--only $only}${set_rounds:+ --rounds $set_rounds}\`"
  [[ $quick -eq 1 ]] && echo && echo "**--quick: a smoke run; these figures mean nothing.**"
} > "$out"
failed=0
for s in "${selected[@]}"; do
  rm -f "$RAW/$s.md" "$RAW/$s.log" "$RAW/$s.why"
  start=$(date +%s)
  if "section_$s" && [[ ! -f "$RAW/$s.why" ]]; then
    status=ran
  else
    status=failed
    failed=1
    [[ -f "$RAW/$s.why" ]] || why "$s" "failed (see $RAW/$s.log)"
    printf '\n**Not measured:** %s\n' "$(cat "$RAW/$s.why")" >> "$RAW/$s.md"
  fi
  echo "run_all.sh: [$s] $status in $(( $(date +%s) - start )) s" >&2
  { printf '\n## %s\n\n<!-- run_all: %s -->\n' "$s" "$s"; cat "$RAW/$s.md"
    printf '<!-- /run_all: %s -->\n' "$s"; } >> "$out"
  if [[ -n "$update" && $status == ran ]]; then
    grep -qF "<!-- run_all: $s -->" "$update" ||
      { echo "run_all.sh: $update has no marker for $s; paste it from $out" >&2; continue; }
    awk -v name="$s" -v body="$RAW/$s.md" '
      $0 == "<!-- run_all: " name " -->" { print; while ((getline l < body) > 0) print l; skip = 1; next }
      $0 == "<!-- /run_all: " name " -->" { skip = 0 }
      !skip' "$update" > "$update.tmp" && mv "$update.tmp" "$update"
  fi
done
echo "run_all.sh: report in $out${update:+; sections that ran replaced in $update}" >&2
exit $failed
