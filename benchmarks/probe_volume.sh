#!/usr/bin/env bash
# How many N lines (absent-path probes, filemon --probes) one gcc compile produces, with the
# per-(pid, path) rule (what filemon writes) and without it (every failed lookup of the calls
# filemon watches, counted by strace, which has no such rule). Results in BENCHMARKS.md
# ("Absent-path probes"). Scratch files go to $FILEMON_BENCH_DIR (default /tmp/filemon-bench).
#
# usage: benchmarks/probe_volume.sh        ($FILEMON overrides the filemon binary)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}/probes
mkdir -p "$SCRATCH"
if [[ -z "${FILEMON:-}" ]]; then
  (cd "$REPO" && bazel build //tools:filemon >&2)
  FILEMON=$REPO/bazel-bin/tools/filemon
fi
cd "$SCRATCH"
# The trace_overhead.sh gcc workload's kind of file: libc headers.
printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n'\
'#include <sys/stat.h>\nint main(void) { printf("%%zu\\n", strlen("x")); return 0; }\n' > a.c
"$FILEMON" --backend=ptrace --probes -o probes.log -- gcc -O1 -c a.c
with_rule=$(grep -c '^N ' probes.log)
reads=$(grep -c '^R ' probes.log)
if command -v strace >/dev/null; then
  calls=open,openat,openat2,execve,execveat,stat,lstat,newfstatat,statx,access,faccessat
  calls=$calls,faccessat2,readlink,readlinkat
  strace -f -qq -o strace.log -e status=failed -e trace=$calls gcc -O1 -c a.c
  failed=$(grep -E '= -1 (ENOENT|ENOTDIR)' strace.log | grep -v O_CREAT)
  without_rule=$(printf '%s\n' "$failed" | grep -c .)
  distinct=$(printf '%s\n' "$failed" |
    sed -E 's/^([0-9]+) +[a-z0-9]+\((AT_FDCWD, )?"([^"]*)".*/\1 \3/' | sort -u | grep -c .)
else
  without_rule="(strace not installed)"
  distinct="-"
fi
echo "gcc -O1 -c a.c: N lines $with_rule (R lines $reads); failed lookups without the rule" \
  "$without_rule, distinct (pid, path) by strace $distinct"
