# What the benchmark scripts share, sourced by each (`source "$(dirname "$0")/common.sh"`):
#   REPO                      the repository root
#   BENCH_NAME                the script's name, for messages ("trace_overhead.sh")
#   bench_parse_args SPEC ARGS...  the script's arguments (below)
#   bench_help                prints the script's usage: its leading comment, without the `#!` line
#   bench_die MESSAGE         "BENCH_NAME: MESSAGE" on standard error, and exit 2
#   bench_scratch             SCRATCH: $FILEMON_BENCH_DIR (default /tmp/filemon-bench), created
#   bench_build TARGET...     builds the targets with --config=opt; BENCH_BIN is where they are
#   bench_filemon             FILEMON, unless the caller set it: the --config=opt build of filemon
#   bench_empty_preload       builds $SCRATCH/libempty_preload.so, an LD_PRELOAD library that does
#                             nothing: what loading any interposer into a process costs
#   bench_median VALUES...    prints the median (of an even count, the lower of the two middle
#                             ones), as given; nothing for no values
#   BENCH_AWK                 awk functions for the reports, put in front of an awk program:
#                             sort_numbers(a, n) sorts a[1..n]; median(a, n) of a sorted a[1..n]
#                             is its middle value or the mean of the two middle ones;
#                             joined(a, n, format) is a[1..n], each formatted by `format`;
#                             median_ci(a, n, format) is a 95 % confidence interval for the
#                             median of a sorted a[1..n], "LOW..HIGH" ("-" below 6 samples)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=$(basename "$0")

bench_help() { sed -n '2,/^[^#]/{/^#/p}' "$0"; }

bench_die() {
  echo "$BENCH_NAME: $1" >&2
  exit 2
}

# bench_parse_args SPEC ARGS...: sets the caller's variables from ARGS as SPEC, a list of words,
# says:
#   --NAME=VARIABLE    an option with a value: `--NAME VALUE` sets VARIABLE
#   --NAME=VARIABLE+   the same, repeatable: each VALUE is appended to the array VARIABLE
#   --NAME=VARIABLE!   an option without a value: `--NAME` sets VARIABLE to 1
#   --=VARIABLE        `--` ends the options; what follows goes into the array VARIABLE
#   OPERAND=VARIABLE   one operand, optional: the first argument that is not an option
# -h and --help print the script's usage and exit 0; anything else is a usage error (exit 2).
bench_parse_args() {
  local -A _kind=() _variable=()
  local _word _name _operand=""
  for _word in $1; do
    _name=${_word%%=*}
    _word=${_word#*=}
    case "$_name:$_word" in
      -*+) _kind[$_name]=append; _variable[$_name]=${_word%+} ;;
      -*!) _kind[$_name]=flag; _variable[$_name]=${_word%!} ;;
      -*) _kind[$_name]=value; _variable[$_name]=$_word ;;
      *) _operand=$_word ;;
    esac
  done
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) bench_help; exit 0 ;;
      --)
        [[ -n "${_kind[--]:-}" ]] || bench_die "unknown argument $1 (try --help)"
        shift
        local -n _rest=${_variable[--]}
        _rest=("$@")
        return 0 ;;
      -*) ;;
      *)
        [[ -n "$_operand" ]] || bench_die "unknown argument $1 (try --help)"
        printf -v "$_operand" '%s' "$1"
        _operand=""
        shift
        continue ;;
    esac
    case "${_kind[$1]:-}" in
      value|append)
        [[ $# -ge 2 ]] || bench_die "$1 needs a value (try --help)"
        local -n _target=${_variable[$1]}
        if [[ ${_kind[$1]} == value ]]; then _target=$2; else _target+=("$2"); fi
        unset -n _target
        shift 2 ;;
      flag) printf -v "${_variable[$1]}" 1; shift ;;
      *) bench_die "unknown argument $1 (try --help)" ;;
    esac
  done
}

bench_scratch() {
  SCRATCH=${FILEMON_BENCH_DIR:-/tmp/filemon-bench}
  mkdir -p "$SCRATCH"
  # Two runs of one script in one folder would remove each other's files mid-run (a run then
  # fails, or measures a half-built tree): the second one stops here instead, naming the way out.
  # The lock is held until the script exits (its descriptor stays open).
  [[ -z "${BENCH_SCRATCH_LOCK:-}" ]] || return 0
  command -v flock > /dev/null || return 0
  local name
  name=$(basename "$0" .sh)
  exec {BENCH_SCRATCH_LOCK}> "$SCRATCH/.lock-$name"
  flock -n "$BENCH_SCRATCH_LOCK" ||
    bench_die "another $name run uses $SCRATCH; give this one its own folder with FILEMON_BENCH_DIR"
}

bench_build() {
  (cd "$REPO" && bazel build --config=opt --noshow_progress "$@" >&2)
  BENCH_BIN=$(cd "$REPO" && bazel info --config=opt bazel-bin 2>/dev/null)
}

bench_filemon() {
  [[ -z "${FILEMON:-}" ]] || return 0
  bench_build //tools:filemon
  FILEMON=$BENCH_BIN/tools/filemon
}

bench_empty_preload() {
  echo 'int filemon_bench_empty_preload(void) { return 0; }' |
    cc -O2 -shared -fPIC -x c -o "$SCRATCH/libempty_preload.so" -
}

bench_median() {
  printf '%s\n' "$@" | sort -g | awk 'NF { a[++n] = $1 } END { if (n) print a[int((n + 1) / 2)] }'
}

BENCH_AWK='
function sort_numbers(a, n,   i, j, x) {
  for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (a[j] + 0 < a[i] + 0) { x = a[i]; a[i] = a[j]; a[j] = x }
}
function median(a, n) { return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
# The rank k of the lower end of a distribution-free 95 % confidence interval for the median of
# n samples, a sorted a[1..n]: [a[k], a[n + 1 - k]] holds the true median with probability at
# least 0.95 (the largest k with P(Binomial(n, 1/2) < k) <= 0.025); 0 when n is too small (< 6).
function median_ci_rank(n,   k, p, cdf) {
  p = 0.5 ^ n; cdf = 0
  for (k = 0; k < n; ++k) {
    if (cdf + p > 0.025) return k
    cdf += p; p = p * (n - k) / (k + 1)
  }
  return 0
}
function median_ci(a, n, format,   k) {
  k = median_ci_rank(n)
  return k ? sprintf(format ".." format, a[k], a[n + 1 - k]) : "-"
}
function joined(a, n, format,   i, line) {
  line = ""
  for (i = 1; i <= n; ++i) line = line sprintf(format, a[i])
  return line
}
'
