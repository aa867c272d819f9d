#!/usr/bin/env bash
# Tracing overhead of the filemon backends against strace, on two real workloads, measured side by
# side: every round runs each variant once (in a rotating order), and the medians over the rounds
# are compared with the untraced run. Results go in BENCHMARKS.md ("Tracing overhead").
#
# usage: benchmarks/trace_overhead.sh [--rounds N] [--workloads gcc,make]
#                                     [--variants untraced,ptrace,floor,preload,auto,strace,strace-seccomp]
#                                     (also: preload-floor, kernel, ebpf, bpftrace, fsatrace,
#                                     NAME-probes, NAME-base)
#
# Workloads:
#   gcc   20 small C files compiled one after the other (gcc -O1 -c), each including libc headers.
#   make  Debian's bmake source (apt-get source bmake; a deb-src entry for Debian's archive is
#         added if missing) built with `make -j2 -f Makefile.boot`, after an untimed `make clean`.
# Variants (add more in `variant_prefix`):
#   untraced        the workload alone
#   ptrace          filemon --backend=ptrace (bazel-bin/tools/filemon built with --config=opt)
#   ptrace-probes   the same with --probes (N records; the filter also stops on the stat family)
#   preload-probes  filemon --backend=preload --probes (the stat family's failures are sent too)
#   auto-probes     filemon --backend=auto --probes
#   preload         filemon --backend=preload (the LD_PRELOAD interposer)
#   auto            filemon --backend=auto: as root where the kernel lets it load BPF, ebpf
#                   (the log's first line says so); else preload, ptrace for the programs
#                   preload cannot enter
#   kernel          filemon --backend=kernel (FreeBSD/NetBSD)
#   ebpf            filemon --backend=ebpf (root; BPF in the kernel); the lost-record count of
#                   every run (`# filemon: lost N records`) is printed at the end
#   bpftrace        its peer: benchmarks/bpftrace_peer.sh, bpftrace running filemon_peer.bt (the
#                   same calls for the command's tree, printed as text) around the workload;
#                   includes bpftrace's own start-up (compiling and loading the script), which
#                   the `bpftrace-startup` line at the end measures alone
#   strace          strace -f -e trace=<the syscalls filemon records>
#   strace-seccomp  the same with --seccomp-bpf
#   fsatrace        the LD_PRELOAD peer (github.com/jacereda/fsatrace, built outside this
#                   repository as BENCHMARKS.md says): `$FSATRACE rwmdq LOG -- COMMAND`, reads,
#                   writes, moves, deletes and stats; skipped, with the reason, unless $FSATRACE
#                   is its binary with its fsatrace.so beside it
#   floor           benchmarks/ptrace_floor.c: a bare seccomp+ptrace loop (entry and exit stop per
#                   filtered call, bare records, no paths): the least any such tracer can cost
#   preload-floor   LD_PRELOAD of an empty shared library: what loading any interposer into
#                   every process costs, before it records anything
#   NAME-base       ptrace-base, preload-base, auto-base: the same backend of another filemon
#                   build, $FILEMON_BASE (e.g. the previous commit's), so that a change is
#                   measured against what it replaces in the same interleaved run;
#                   ptrace-probes-base (...) is that build with --probes, paired with NAME-base
# Scratch files (sources, objects, logs) live in $FILEMON_BENCH_DIR (default /tmp/filemon-bench),
# never in the repository. $FILEMON overrides the filemon binary.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=7
WORKLOADS=gcc,make
VARIANTS=untraced,ptrace,floor,preload,auto,strace,strace-seccomp
bench_parse_args "--rounds=ROUNDS --workloads=WORKLOADS --variants=VARIANTS" "$@"
bench_scratch
SYSCALLS=open,openat,openat2,creat,chdir,fchdir,rename,renameat,renameat2,link,linkat,symlink
SYSCALLS=$SYSCALLS,symlinkat,unlink,unlinkat,rmdir,execve,execveat

bench_filemon

variant_prefix() {
  case "$1" in
    untraced) echo "" ;;
    ptrace|preload|auto|kernel|ebpf) echo "$FILEMON --backend=$1 -o $SCRATCH/filemon.log --" ;;
    bpftrace) echo "$REPO/benchmarks/bpftrace_peer.sh $SCRATCH/bpftrace.log" ;;
    ptrace-probes|preload-probes|auto-probes)
      echo "$FILEMON --backend=${1%-probes} --probes -o $SCRATCH/filemon.log --" ;;
    strace) echo "strace -f -qq -o $SCRATCH/strace.log -e trace=$SYSCALLS" ;;
    strace-seccomp) echo "strace -f -qq --seccomp-bpf -o $SCRATCH/strace.log -e trace=$SYSCALLS" ;;
    fsatrace) echo "$FSATRACE rwmdq $SCRATCH/fsatrace.log --" ;;
    floor) echo "$SCRATCH/ptrace_floor $SCRATCH/floor.log" ;;
    preload-floor) echo "env LD_PRELOAD=$SCRATCH/libempty_preload.so" ;;
    ptrace-probes-base|preload-probes-base|auto-probes-base)
      [[ -n "${FILEMON_BASE:-}" ]] || bench_die "variant $1 needs FILEMON_BASE (another filemon binary)"
      echo "$FILEMON_BASE --backend=${1%-probes-base} --probes -o $SCRATCH/filemon-base.log --" ;;
    ptrace-base|preload-base|auto-base)
      [[ -n "${FILEMON_BASE:-}" ]] || bench_die "variant $1 needs FILEMON_BASE (another filemon binary)"
      echo "$FILEMON_BASE --backend=${1%-base} -o $SCRATCH/filemon-base.log --" ;;
    *) bench_die "unknown variant $1" ;;
  esac
}

# The gcc workload: benchmarks/gcc_workload.sh (setup_gcc, prepare_gcc, run_gcc).
source "$REPO/benchmarks/gcc_workload.sh"

# The make workload: benchmarks/bmake_workload.sh (setup_make, prepare_make, run_make).
source "$REPO/benchmarks/bmake_workload.sh"

if [[ ",$VARIANTS," == *,floor,* ]]; then
  cc -O2 -o "$SCRATCH/ptrace_floor" "$REPO/benchmarks/ptrace_floor.c"
fi
if [[ ",$VARIANTS," == *,preload-floor,* ]]; then bench_empty_preload; fi

# Why the fsatrace variant cannot run here (empty if it can): fsatrace preloads the library
# named after its own path plus `.so`.
fsatrace_missing() {
  if [[ -z "${FSATRACE:-}" ]]; then echo "FSATRACE is not set (how to build it: BENCHMARKS.md)"
  elif [[ ! -f "$FSATRACE" || ! -x "$FSATRACE" ]]; then echo "FSATRACE=$FSATRACE is not an executable"
  elif [[ ! -f "$FSATRACE.so" ]]; then echo "$FSATRACE.so, its interposer, is missing"
  fi
}

IFS=, read -r -a workloads <<< "$WORKLOADS"
IFS=, read -r -a requested <<< "$VARIANTS"
variants=()
SKIPPED=""
for v in "${requested[@]}"; do
  if [[ "$v" == fsatrace && -n "$(fsatrace_missing)" ]]; then
    SKIPPED="$SKIPPED# skipped: fsatrace ($(fsatrace_missing))"$'\n'
    echo "trace_overhead.sh: skipping variant fsatrace: $(fsatrace_missing)" >&2
    continue
  fi
  variants+=("$v")
done
for v in "${variants[@]}"; do variant_prefix "$v" >/dev/null; done
[[ ${#variants[@]} -gt 0 ]] || bench_die "no variant left to run"
RESULTS="$SCRATCH/results.txt"
TIMEFORMAT='%3R %3U %3S'
: > "$RESULTS"
: > "$SCRATCH/lost.txt"

for w in "${workloads[@]}"; do
  "setup_$w"
  # Warm-up (not counted): caches, and a check that every variant runs the workload.
  for v in "${variants[@]}"; do
    "prepare_$w"
    rm -f "$SCRATCH/fsatrace.log"
    if ! "run_$w" "$(variant_prefix "$v")" > /dev/null 2>"$SCRATCH/stderr.txt"; then
      echo "trace_overhead.sh: $w under $v failed:" >&2; cat "$SCRATCH/stderr.txt" >&2; exit 1
    fi
    # A peer whose library the loader refused runs the workload untraced, and would look free.
    if [[ "$v" == fsatrace ]] && ! grep -q '^r|' "$SCRATCH/fsatrace.log"; then
      echo "trace_overhead.sh: fsatrace recorded no read" \
        "($SCRATCH/fsatrace.log): is $FSATRACE.so loadable?" >&2
      exit 1
    fi
  done
  n=${#variants[@]}
  for ((round = 0; round < ROUNDS; ++round)); do
    for ((k = 0; k < n; ++k)); do
      v=${variants[$(((k + round) % n))]}
      "prepare_$w"
      prefix=$(variant_prefix "$v")
      # Wall time, and the CPU time (user + system) of the whole process tree, tracer included:
      # on a shared machine the CPU time is the steadier of the two.
      status=0
      { time "run_$w" "$prefix" > /dev/null 2>&1; } 2> "$SCRATCH/time.txt" || status=$?
      if [[ "$v" == ebpf ]]; then  # 0 unless the ring buffer was full (then filemon exits 126)
        lost=$(sed -n 's/^# filemon: lost \([0-9]*\) records$/\1/p' "$SCRATCH/filemon.log")
        echo "$w ${lost:-0}" >> "$SCRATCH/lost.txt"
      fi
      if [[ $status -ne 0 ]]; then echo "trace_overhead.sh: $w under $v failed" >&2; exit 1; fi
      read -r wall user sys < "$SCRATCH/time.txt"
      echo "$w $v $wall $(echo "$user + $sys" | bc)" >> "$RESULTS"
    done
  done
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $ROUNDS interleaved rounds"
echo "# command: benchmarks/trace_overhead.sh --rounds $ROUNDS --workloads $WORKLOADS --variants $VARIANTS"
printf '%s' "$SKIPPED"
report() {  # report FIELD TITLE: medians and ratios of column FIELD (3: wall, 4: cpu)
  awk -v field="$1" -v title="$2" "$BENCH_AWK"'
    { t[$1 " " $2] = t[$1 " " $2] " " $field
      if (!index(order[$1], " " $2 " ")) order[$1] = order[$1] " " $2 " " }
    END {
      for (w in order) {
        printf "\nworkload %s, %s\n%-16s %9s %7s   samples (s, sorted)\n", w, title, "variant", "median s", "ratio"
        nv = split(order[w], vs, " ")
        base = 0
        for (i = 1; i <= nv; ++i) {
          m = split(t[w " " vs[i]], s, " ")
          sort_numbers(s, m)
          meds[i] = median(s, m)
          if (vs[i] == "untraced") base = meds[i]
          lines[i] = joined(s, m, " %.2f")
        }
        for (i = 1; i <= nv; ++i) {
          printf "%-16s %9.3f %7s  %s\n", vs[i], meds[i], base ? sprintf("%.2fx", meds[i] / base) : "-", lines[i]
        }
      }
    }' "$RESULTS"
}
report 3 "wall time"
report 4 "CPU time (user + system, tracer included)"

# Paired: each variant against the untraced run of the same round (run minutes apart at most), so
# that the machine's drift over the whole run cancels; the median of those ratios. Of the wall
# time and of the CPU time (steadier on a shared machine), with a 95 % confidence interval for
# that median which assumes nothing about the ratios' distribution (see median_ci).
# BY_ROUND, the first rule of the paired reports (awk -v n=VARIANT_COUNT -v field=FIELD):
# t[WORKLOAD, ROUND, VARIANT] is that run's FIELD, rounds[WORKLOAD] the count of rounds and
# order[WORKLOAD] the variants in the order they first ran.
BY_ROUND='{ k = $1; i = seen[k]++; r = int(i / n); t[k, r, $2] = $field; rounds[k] = r + 1
      if (!index(order[k], " " $2 " ")) order[k] = order[k] " " $2 " " }'
paired() {  # paired FIELD TITLE (3: wall, 4: cpu)
  awk -v n="${#variants[@]}" -v field="$1" -v title="$2" "$BENCH_AWK$BY_ROUND"'
    END {
      for (k in order) {
        printf "\nworkload %s, %s paired with the same round'"'"'s untraced run\n", k, title
        printf "%-16s %12s %13s   ratios (sorted)\n", "variant", "median ratio", "95% CI"
        nv = split(order[k], vs, " ")
        for (j = 1; j <= nv; ++j) {
          if (vs[j] == "untraced") continue
          m = 0
          for (r = 0; r < rounds[k]; ++r) {
            if (t[k, r, "untraced"] > 0 && t[k, r, vs[j]] > 0) s[++m] = t[k, r, vs[j]] / t[k, r, "untraced"]
          }
          sort_numbers(s, m)
          printf "%-16s %11.3fx %13s  %s\n", vs[j], median(s, m), median_ci(s, m, "%.3f"), joined(s, m, " %.2f")
        }
      }
    }' "$RESULTS"
}
paired 3 "wall time"
paired 4 "CPU time"

# --probes against the same backend without it, paired within each round: BACKEND-probes over
# BACKEND, the median of the per-round differences of their ratios to untraced (+0.05: probes
# add 5 % of the untraced time).
probes_paired() {  # probes_paired FIELD TITLE
  awk -v n="${#variants[@]}" -v field="$1" -v title="$2" "$BENCH_AWK$BY_ROUND"'
    END {
      for (k in order) {
        nv = split(order[k], vs, " ")
        header = 0
        for (j = 1; j <= nv; ++j) {
          v = vs[j]
          if (v ~ /-probes-base$/) base = substr(v, 1, length(v) - 12) "-base"
          else if (v ~ /-probes$/) base = substr(v, 1, length(v) - 7)
          else continue
          if (!index(order[k], " " base " ")) continue
          if (!header) {
            printf "\nworkload %s, --probes paired with the same backend without it, %s\n", k, title
            printf "%-16s %16s   differences (sorted)\n", "variant", "median +ratio"
            header = 1
          }
          m = 0
          for (r = 0; r < rounds[k]; ++r) {
            u = t[k, r, "untraced"]
            if (u > 0 && t[k, r, v] > 0 && t[k, r, base] > 0) s[++m] = (t[k, r, v] - t[k, r, base]) / u
          }
          sort_numbers(s, m)
          printf "%-16s %+15.3f  %s\n", v, median(s, m), joined(s, m, " %+.3f")
        }
      }
    }' "$RESULTS"
}
probes_paired 3 "wall time"
probes_paired 4 "CPU time"
if [[ -s "$SCRATCH/lost.txt" ]]; then
  echo
  awk '{ n[$1]++; s[$1] += $2; l[$1] = l[$1] " " $2 }
       END { for (w in n) printf "workload %s, ebpf lost records per run (%d runs, total %d):%s\n", w, n[w], s[w], l[w] }' \
    "$SCRATCH/lost.txt"
fi
# Start-up alone: the tracer around /bin/true, median of 9, wall and CPU (user + system).
for v in "${variants[@]}"; do
  [[ "$v" == ebpf || "$v" == bpftrace ]] || continue
  prefix=$(variant_prefix "$v")
  for i in $(seq 9); do
    { time $prefix /bin/true > /dev/null 2>&1; } 2> "$SCRATCH/time.txt"
    read -r wall user sys < "$SCRATCH/time.txt"
    echo "$wall $(echo "$user + $sys" | bc)"
  done > "$SCRATCH/startup.txt"
  printf '%s-startup: /bin/true traced, median of 9: wall %s s, CPU (user + system) %s s\n' "$v" \
    "$(sort -n -k1 "$SCRATCH/startup.txt" | awk 'NR == 5 { print $1 }')" \
    "$(sort -n -k2 "$SCRATCH/startup.txt" | awk 'NR == 5 { print $2 }')"
done
