#!/bin/bash
# Bounded memory on any input: `filemon parse` and `filemon-meta check`/`deps` on /dev/zero, a
# FIFO, a 10 MB line and a 1 GB log, each under an address-space limit (RLIMIT_AS) far below
# the input's size. Usage: filemon_stream_test.sh PATH/TO/filemon PATH/TO/filemon-meta
set -u
filemon=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
meta=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
cd "${TEST_TMPDIR:-/tmp}" || exit 1
limit_kb=100000  # 100 MB of address space: the binaries, their libraries, 1 MiB of line buffer
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# bounded CMD...: runs CMD under the address-space limit; stdout to out.txt, stderr to err.txt.
bounded() {
  (ulimit -v $limit_kb && exec "$@") >out.txt 2>err.txt
}

line_limit="line 1 is longer than the limit of 1048576 bytes"

# /dev/zero: the first line never ends; both tools stop at the line limit, at once.
bounded "$filemon" parse /dev/zero
status=$?
[[ $status == 2 ]] || fail "parse /dev/zero exited $status: $(cat err.txt)"
grep -q "/dev/zero: $line_limit" err.txt || fail "parse /dev/zero: $(cat err.txt)"
bounded "$filemon" parse --lenient --format=json /dev/zero
[[ $? == 2 ]] || fail "parse --lenient --format=json /dev/zero: $(cat err.txt)"
bounded "$meta" check /dev/zero
status=$?
[[ $status == 2 ]] || fail "check /dev/zero exited $status: $(cat err.txt)"
grep -q "/dev/zero: $line_limit" err.txt || fail "check /dev/zero: $(cat err.txt)"
bounded "$meta" deps /dev/zero
status=$?
[[ $status == 2 ]] || fail "deps /dev/zero exited $status: $(cat err.txt)"
grep -q "/dev/zero: $line_limit" err.txt || fail "deps /dev/zero: $(cat err.txt)"

# deps' @LIST is read with the same limits, and one that cannot be read is an error that names
# it, not an empty list ("no FILE.meta given").
bounded "$meta" deps @/dev/zero
status=$?
[[ $status == 2 ]] || fail "deps @/dev/zero exited $status: $(cat err.txt)"
grep -q "/dev/zero: $line_limit" err.txt || fail "deps @/dev/zero: $(cat err.txt)"
bounded "$meta" deps @/nonexistent/list
status=$?
[[ $status == 2 ]] || fail "deps @/nonexistent/list exited $status: $(cat err.txt)"
grep -q "open(/nonexistent/list) (@LIST): No such file or directory" err.txt ||
  fail "deps @/nonexistent/list: $(cat err.txt)"

# A 10 MB line.
{ echo '# filemon version 5'; head -c 10000000 /dev/zero | tr '\0' x; echo; } >long.log
bounded "$filemon" parse long.log
[[ $? == 2 ]] || fail "parse of a 10 MB line: $(cat err.txt)"
grep -q "long.log: line 2 is longer than the limit of 1048576 bytes" err.txt ||
  fail "10 MB line: $(cat err.txt)"
[[ $(cat out.txt) == "# filemon version 5" ]] || fail "10 MB line: the line before: $(cat out.txt)"

# A regular .meta is mapped, not read: its size counts against the limit once, and the lines
# that bmake reads in pieces (a file of NULs, a huge line without its newline) are not copied.
truncate -s 300000K nul.meta
{ printf -- '-- filemon acquired metadata --\n# filemon version 5\n'; head -c 150000K /dev/zero | tr '\0' x; } >huge_line.meta
for input in nul.meta huge_line.meta; do
  size_kb=$(($(stat -c %s "$input") / 1024))
  (ulimit -v $((limit_kb + size_kb)) && exec "$meta" check --target / "$input") >out.txt 2>err.txt
  status=$?
  ((status == 0 || status == 1)) || fail "check of $input exited $status: $(cat err.txt)"
done
# deps: a record longer than a line may be (a 300 MB name of NULs) is bad input, not a name
# to copy.
printf -- '-- filemon acquired metadata --\n# filemon version 5\nR 1 ' >nul_path.meta
truncate -s 300000K nul_path.meta
(ulimit -v $((limit_kb + 300000)) && exec "$meta" deps nul_path.meta) >out.txt 2>err.txt
status=$?
[[ $status == 2 ]] || fail "deps of a 300 MB name exited $status: $(cat err.txt)"
grep -q "nul_path.meta: line 3 is longer than the limit of 1048576 bytes" err.txt ||
  fail "deps of a 300 MB name: $(cat err.txt)"
rm -f nul.meta huge_line.meta nul_path.meta

# A FIFO whose first line is bad: strict mode says so at once, not when the writer is done.
rm -f fifo
mkfifo fifo
(printf 'R 1 /a\nQ bad\n'; sleep 20) >fifo &
writer=$!
start=$(date +%s)
bounded timeout 15 "$filemon" parse fifo
status=$?
[[ $status == 2 ]] || fail "parse of a FIFO with a bad line exited $status: $(cat err.txt)"
grep -q "fifo:2:1: expected a record letter" err.txt || fail "FIFO: $(cat err.txt)"
(($(date +%s) - start < 10)) || fail "FIFO: the error came only at the writer's end"
kill $writer 2>/dev/null
wait $writer 2>/dev/null
# A FIFO holding a whole .meta: check reads it.
(printf 'CMD true\nCWD /\nTARGET t\n-- command output --\n\n-- filemon acquired metadata --\n# filemon version 5\n# Bye bye\n') >fifo &
bounded "$meta" check --cwd / --target / fifo
status=$?
[[ $status == 0 ]] || fail "check of a FIFO .meta exited $status: $(cat out.txt) $(cat err.txt)"
wait

# --format=json holds the whole log: one too large for the memory left is an error that says
# so (status 127, the output cannot be written), not an abort with std::bad_alloc.
{ echo '# filemon version 5'; yes 'R 1 /usr/include/stdio.h' | head -n 4000000; echo '# Bye bye'; } >big.log
bounded "$filemon" parse --format=json big.log
status=$?
[[ $status == 127 ]] || fail "parse --format=json of a 100 MB log exited $status: $(head -c 300 err.txt)"
grep -q "big.log: out of memory holding the log for --format=json" err.txt ||
  fail "parse --format=json of a 100 MB log: $(head -c 300 err.txt)"
rm -f big.log

# A 1 GB log through a pipe: parsed in bounded pieces, every line printed again.
{ yes 'R 1 /usr/include/stdio.h' | head -n 40000000; echo '# Bye bye'; } |
  (ulimit -v $limit_kb && exec "$filemon" parse -) 2>err.txt | tail -2 >out.txt
[[ $(cat out.txt) == $'R 1 /usr/include/stdio.h\n# Bye bye' ]] ||
  fail "1 GB log: $(cat out.txt) $(cat err.txt)"

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all bounded-memory checks passed"
