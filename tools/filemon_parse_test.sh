#!/bin/bash
# End-to-end test of `filemon parse`: byte-for-byte output, JSON, exit statuses, error format.
# Usage: filemon_parse_test.sh PATH/TO/filemon   (Bazel passes it; logs come from runfiles)
set -u
filemon="$1"
logs="filemon/core/testdata/parser_corpus"
out="${TEST_TMPDIR:-/tmp}/parse_out"
err="${TEST_TMPDIR:-/tmp}/parse_err"
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_status WANT CMD...: runs CMD with stdout/stderr captured, checks the exit status.
expect_status() {
  local want="$1"
  shift
  "$@" >"$out" 2>"$err"
  local got=$?
  [[ $got == "$want" ]] || fail "$* exited $got, want $want; stderr: $(cat "$err")"
}

# Canonical logs of every variant are reproduced byte for byte, from a file and from stdin.
# (escapes.log is records only, without a footer: incomplete, exit 3 in strict mode.)
for log in freebsd_v5 freebsd9 freebsd10 netbsd_v2 juniper escapes; do
  want=0
  [[ $log == escapes ]] && want=3
  expect_status $want "$filemon" parse "$logs/$log.log"
  cmp -s "$out" "$logs/$log.log" || fail "$log.log: output differs: $(diff "$out" "$logs/$log.log")"
  [[ $want == 3 || ! -s "$err" ]] || fail "$log.log: unexpected stderr: $(cat "$err")"
  expect_status $want "$filemon" parse --format=filemon --strict - <"$logs/$log.log"
  cmp -s "$out" "$logs/$log.log" || fail "$log.log via stdin: output differs"
done

# JSON: one object on one line, with the variant and the records.
expect_status 0 "$filemon" parse --format=json "$logs/freebsd_v5.log"
[[ $(wc -l <"$out") == 1 ]] || fail "json: expected one line, got $(wc -l <"$out")"
grep -q '"variant":"FREEBSD_V5"' "$out" || fail "json: no variant: $(cat "$out")"
grep -q '"kind":"EXEC","pid":65204,"path":"/bin/sleep"' "$out" || fail "json: no E record"
grep -q '"byeBye":true' "$out" || fail "json: no footer"
# Every field of a record, zeros included, and 32-bit numbers as JSON numbers.
exits="${TEST_TMPDIR:-/tmp}/exits.log"
printf 'V 5\nF 1 2\nX 2 0 0\nX 1 3 0\n# filemon version 5\n# Bye bye\n' >"$exits"
expect_status 0 "$filemon" parse --format=json "$exits"
grep -q '{"kind":"EXIT","pid":2,"status":0,"signal":0}' "$out" || fail "json exit 0: $(cat "$out")"
grep -q '{"kind":"FORK","pid":1,"childPid":2}' "$out" || fail "json fork: $(cat "$out")"
if command -v jq >/dev/null; then
  [[ $(jq -c '[.records[] | select(.status == 0) | .pid]' "$out") == "[2]" ]] ||
    fail "jq select(.status == 0): $(jq -c '.records' "$out")"
fi
printf 'R 99999999999 /a\n# Bye bye\n' >"$exits"
expect_status 2 "$filemon" parse --format=json "$exits"
grep -q "does not fit in 32 bits" "$err" || fail "json 64-bit pid: $(cat "$err")"
expect_status 0 "$filemon" parse --format json "$logs/netbsd_v2.log"
grep -q '"variant":"NETBSD_KERNEL"' "$out" || fail "json netbsd: $(cat "$out")"

# Strict mode: exit 2, FILE:LINE:COL: message on stderr.
expect_status 2 "$filemon" parse "$logs/netbsd_v4.log"
[[ $(cat "$err") == "$logs/netbsd_v4.log:19:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'" ]] ||
  fail "strict error: $(cat "$err")"
expect_status 2 "$filemon" parse --format=json - <"$logs/malformed.log"
[[ $(cat "$err") == "-:2:1: expected a record letter (one of ACDEFLMNRSWXV) or '#'" ]] ||
  fail "strict error on stdin: $(cat "$err")"
[[ ! -s "$out" ]] || fail "json output despite a strict error"

# Lenient mode: exit 0, bad lines skipped, a warning.
expect_status 0 "$filemon" parse --lenient "$logs/netbsd_v4.log"
[[ $(wc -l <"$out") == 22 ]] || fail "lenient: expected 22 lines, got $(wc -l <"$out")"
grep -q "skipped 1 malformed line(s), first: $logs/netbsd_v4.log:19:1:" "$err" ||
  fail "lenient warning: $(cat "$err")"

# An incomplete log (no footer) is not malformed: strict mode says "incomplete log" and exits
# 3 after the output, lenient mode warns and exits 0. A crash tail (cut last line) is kept as
# it was and never read as a record.
expect_status 3 "$filemon" parse "$logs/truncated.log"
cmp -s "$out" "$logs/truncated.log" || fail "truncated: output differs: $(cat "$out")"
grep -q "^$logs/truncated.log: incomplete log: no footer, and the last line is cut" "$err" ||
  fail "truncated: $(cat "$err")"
expect_status 0 "$filemon" parse --lenient "$logs/truncated.log"
grep -q "warning: $logs/truncated.log: incomplete log" "$err" || fail "lenient truncated: $(cat "$err")"
expect_status 3 "$filemon" parse --format=json "$logs/truncated.log"
grep -q '"incomplete":true' "$out" || fail "json truncated: not incomplete: $(cat "$out")"
grep -q '"tail":"R 2 /b"' "$out" || fail "json truncated: no tail: $(cat "$out")"
grep -q '"path":"/b"' "$out" && fail "json truncated: the tail is a record: $(cat "$out")"
empty="${TEST_TMPDIR:-/tmp}/empty.log"
: >"$empty"
expect_status 3 "$filemon" parse "$empty"
[[ $(cat "$err") == "$empty: incomplete log: no footer (# Bye bye): its writer did not finish it" ]] ||
  fail "empty: $(cat "$err")"
expect_status 0 "$filemon" parse --lenient --format=json "$empty"
grep -q '"incomplete":true' "$out" || fail "json empty: $(cat "$out")"
cut="${TEST_TMPDIR:-/tmp}/cut.log"
grep -v '^# ' "$logs/freebsd_v5.log" >"$cut"  # cut at a line boundary, before the footer
expect_status 3 "$filemon" parse "$cut"
cmp -s "$out" "$cut" || fail "cut: output differs"
grep -q "incomplete log: no footer" "$err" || fail "cut: $(cat "$err")"
expect_status 0 "$filemon" parse --format=json "$logs/freebsd_v5.log"
grep -q '"incomplete":true' "$out" && fail "complete log said incomplete: $(cat "$out")"

# The kernel's order: strict mode stops before the first record out of order (exit 2,
# FILE:LINE: message), lenient mode prints the whole log and warns once.
ordered="${TEST_TMPDIR:-/tmp}/ordered.log"
printf 'E 12 /bin/sh\nF 12 13\nX 12 0 0\nR 13 /x\nX 13 0 0\n# Bye bye\n' >"$ordered"
expect_status 0 "$filemon" parse "$ordered"
cmp -s "$out" "$ordered" || fail "ordered log: output differs: $(cat "$out")"
[[ ! -s "$err" ]] || fail "ordered log: unexpected stderr: $(cat "$err")"
unordered="${TEST_TMPDIR:-/tmp}/unordered.log"
printf 'E 12 /bin/sh\nX 12 0 0\nF 12 13\nR 13 /x\nX 13 0 0\nR 13 /y\n# Bye bye\n' >"$unordered"
for format in filemon json; do
  expect_status 2 "$filemon" parse --format=$format --strict "$unordered"
  [[ $(cat "$err") == "$unordered:3: F 12 13: parent 12 exited at line 2" ]] ||
    fail "order, strict, $format: $(cat "$err")"
done
expect_status 2 "$filemon" parse "$unordered"
[[ $(cat "$out") == $'E 12 /bin/sh\nX 12 0 0' ]] || fail "order, strict: output $(cat "$out")"
expect_status 2 "$filemon" parse - <"$unordered"
[[ $(cat "$err") == "-:3: F 12 13: parent 12 exited at line 2" ]] || fail "order, stdin: $(cat "$err")"
for format in filemon json; do
  expect_status 0 "$filemon" parse --format=$format --lenient "$unordered"
  [[ $(cat "$err") == "filemon parse: warning: out of the kernel's order: $unordered:3: F 12 13: parent 12 exited at line 2" ]] ||
    fail "order, lenient, $format: $(cat "$err")"
done
expect_status 0 "$filemon" parse --lenient "$unordered"
cmp -s "$out" "$unordered" || fail "order, lenient: output differs: $(cat "$out")"
printf 'E 12 /bin/sh\nF 12 13\nX 13 0 0\nR 13 /late\n' >"$unordered"
expect_status 2 "$filemon" parse "$unordered"
[[ $(cat "$err") == "$unordered:4: R 13 /late: pid 13 exited at line 3" ]] ||
  fail "order, record after X: $(cat "$err")"
# FreeBSD 9.x (and NetBSD, ktrace) write F when the parent's vfork returns, after the child's
# exec: their logs are not held to the order.
printf '# filemon version 4\n# Target pid 12\n# Start 1.000000\nV 4\nE 12 /bin/sh\nE 13 /bin/cat\nF 12 13\nX 13 0\nX 12 0\n# Stop 2.000000\n# Bye bye\n' >"$unordered"
expect_status 0 "$filemon" parse --strict "$unordered"
[[ ! -s "$err" ]] || fail "order, FreeBSD 9.x: unexpected stderr: $(cat "$err")"

# Usage.
expect_status 0 "$filemon" parse --help
grep -q "usage: filemon parse" "$out" || fail "--help: $(cat "$out")"
expect_status 125 "$filemon" parse --format=xml "$logs/freebsd_v5.log"
expect_status 125 "$filemon" parse --bogus "$logs/freebsd_v5.log"
expect_status 125 "$filemon" parse
expect_status 125 "$filemon" parse a b
expect_status 125 "$filemon" parse --format
expect_status 0 "$filemon" parse --format json "$logs/freebsd_v5.log"

# Input that cannot be read is bad input like a malformed log: exit 2.
expect_status 2 "$filemon" parse /nonexistent/filemon.out
[[ $(cat "$err") == "filemon parse: open(/nonexistent/filemon.out): No such file or directory" ]] ||
  fail "missing file: $(cat "$err")"
expect_status 2 "$filemon" parse "$logs"
grep -q "Is a directory" "$err" || fail "directory: $(cat "$err")"
if [[ $(id -u) != 0 ]]; then
  unreadable="${TEST_TMPDIR:-/tmp}/unreadable.log"
  echo 'R 1 /a' >"$unreadable"
  chmod 000 "$unreadable"
  expect_status 2 "$filemon" parse "$unreadable"
  grep -q "Permission denied" "$err" || fail "permission: $(cat "$err")"
fi

# Output that cannot be written: 127.
if [[ -w /dev/full ]]; then
  "$filemon" parse "$logs/freebsd_v5.log" >/dev/full 2>"$err"
  got=$?
  [[ $got == 127 ]] || fail "output to /dev/full exited $got, want 127"
fi

# A reader that goes away (`filemon parse LOG | head`): the same 127, not death by SIGPIPE.
big="${TEST_TMPDIR:-/tmp}/parse_big.log"
{
  printf '# filemon version 5\n# Target pid 1\n'
  for ((i = 0; i < 20000; ++i)); do printf 'R 1 /a/long/enough/path/%d\n' "$i"; done
} >"$big"
"$filemon" parse "$big" 2>"$err" | head -c1 >/dev/null
got=${PIPESTATUS[0]}
[[ $got == 127 ]] || fail "output into a closed pipe exited $got, want 127"
grep -q "Broken pipe" "$err" || fail "closed pipe: no reason given: $(cat "$err")"

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all filemon parse checks passed"
