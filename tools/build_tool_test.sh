#!/bin/bash
# scripts/build-tool (used by scripts/filemon and scripts/filemon-meta) is silent when Bazel had
# nothing to build, shows Bazel's output when it built something or failed. Bazel is a stub here.
# Usage: build_tool_test.sh PATH/TO/scripts/build-tool
set -u
tool=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "${TEST_TMPDIR:-/tmp}" || exit 1
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# stub EXIT_STATUS LINES...: a `bazel` that prints LINES on stderr and exits with EXIT_STATUS.
stub() {
  local status=$1
  shift
  { echo '#!/bin/sh'; for line in "$@"; do printf "echo '%s' >&2\n" "$line"; done
    echo "exit $status"; } >bazel-stub
  chmod +x bazel-stub
}
up_to_date=("INFO: Invocation ID: 1" "INFO: Analyzed target //tools:filemon (0 packages loaded)."
            "INFO: Found 1 target..." "Target //tools:filemon up-to-date:"
            "  bazel-bin/tools/filemon" "INFO: Elapsed time: 0.5s, Critical Path: 0.00s"
            "INFO: 1 process: 1 internal." "INFO: Build completed successfully, 1 total action")

stub 0 "${up_to_date[@]}"
BAZEL=$PWD/bazel-stub "$tool" //tools:filemon >out.txt 2>err.txt
[[ $? == 0 ]] || fail "up to date: exit status"
[[ ! -s err.txt && ! -s out.txt ]] || fail "up to date: Bazel's output shown: $(cat err.txt out.txt)"

stub 0 "INFO: Analyzed target //tools:filemon" "INFO: 40 processes: 6 internal, 34 linux-sandbox."
BAZEL=$PWD/bazel-stub "$tool" //tools:filemon >out.txt 2>err.txt
[[ $? == 0 ]] || fail "built: exit status"
grep -q "34 linux-sandbox" err.txt || fail "built: Bazel's output hidden"
[[ ! -s out.txt ]] || fail "built: standard output used: $(cat out.txt)"

stub 1 "ERROR: compilation failed"
BAZEL=$PWD/bazel-stub "$tool" //tools:filemon >out.txt 2>err.txt
status=$?
[[ $status == 126 ]] || fail "failed build exited $status, want 126"
grep -q "ERROR: compilation failed" err.txt || fail "failed build: Bazel's output hidden"

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all build-tool checks passed"
