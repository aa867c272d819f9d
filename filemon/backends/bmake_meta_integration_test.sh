#!/usr/bin/env bash
# bmake's meta mode on Linux with this library serving its filemon calls (scripts/bmake-filemon).
#
#   bazel test --nocache_test_results --test_env=BMAKE_FILEMON="$(scripts/bmake-filemon)" \
#       //filemon/backends:bmake_meta_integration_test
# (scripts/bmake-filemon builds and installs the bmake, and prints its path.)
#
# A small C project is built in meta mode, in compat mode and with -j2 (the two ways bmake
# drives filemon), and the test checks that:
#   - every .meta has a "-- filemon acquired metadata --" section with a v5 log;
#   - nothing rebuilds when nothing changed;
#   - touching a header that one target read rebuilds exactly that target, with bmake's
#     "file '...' is newer than the target..." message (-dM);
#   - `filemon-meta check` agrees with bmake about every .meta, before and after the change.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

bmake="${BMAKE_FILEMON:-}"
[[ -n "$bmake" ]] || fail "BMAKE_FILEMON is not set: bazel test --test_env=BMAKE_FILEMON=\"\$(scripts/bmake-filemon)\" ..."
[[ -x "$bmake" ]] || fail "BMAKE_FILEMON=$bmake is not an executable"
meta_tool="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ "$("$bmake" -r -f /dev/null -V .MAKE.PATH_FILEMON)" == "ptrace" ]] ||
  fail "$bmake is not built with this library (.MAKE.PATH_FILEMON is not 'ptrace')"

# expect_check FILE=VERDICT...: `filemon-meta check` gives each FILE that verdict.
expect_check() {
  local files=() want
  for want in "$@"; do files+=("${want%%=*}"); done
  "$meta_tool" check --compat 20200710 "${files[@]}" > check.log 2>&1 || true
  for want in "$@"; do
    grep -q "^${want%%=*}: ${want#*=}" check.log ||
      { cat check.log; fail "filemon-meta check: expected ${want%%=*}: ${want#*=}"; }
  done
}

run_project() {
  local mode="$1"; shift  # the extra bmake arguments (e.g. -j2)
  local dir="$TEST_TMPDIR/project$mode"
  rm -rf "$dir"
  mkdir -p "$dir"
  cd "$dir"
  here="$(pwd -P)"
  printf '#define A 1\n' > a.h
  printf '#define B 2\n' > b.h
  printf '#include "a.h"\nint a(void) { return A; }\n' > a.c
  printf '#include "b.h"\nint b(void) { return B; }\n' > b.c
  printf 'int a(void);\nint b(void);\nint main(void) { return a() + b() - 3; }\n' > main.c
  cat > Makefile <<'EOF'
.MAKE.MODE = meta verbose curdirOk=yes
all: prog
prog: a.o b.o main.o
	cc -o prog a.o b.o main.o
.for o in a b main
${o}.o: ${o}.c
	cc -c ${o}.c -o ${o}.o
.endfor
EOF
  echo "== first build ($mode)"
  "$bmake" -r "$@" > build1.log 2>&1 || { cat build1.log; fail "first build failed"; }
  ./prog || fail "prog exited $?"
  for m in a.o.meta b.o.meta main.o.meta prog.meta; do
    [[ -f "$m" ]] || { cat build1.log; fail "no $m"; }
    grep -qx -- '-- filemon acquired metadata --' "$m" || { cat "$m"; fail "$m has no filemon section"; }
    grep -q '^# filemon version 5$' "$m" || { cat "$m"; fail "$m: no v5 header"; }
    grep -q '^# Bye bye$' "$m" || { cat "$m"; fail "$m: no footer"; }
    grep -q '^E [0-9]* .*/cc1$\|^E [0-9]* .*/cc$' "$m" || { cat "$m"; fail "$m: no exec of the compiler"; }
  done
  grep -q '^R [0-9]* a\.h$' a.o.meta || { cat a.o.meta; fail "a.o.meta does not record the read of a.h"; }
  if grep -q 'a\.h' b.o.meta; then fail "b.o.meta mentions a.h"; fi

  # Everything older than now, so that a touched file is newer at one-second resolution.
  touch -d '2 minutes ago' ./*
  echo "== no change ($mode)"
  "$bmake" -r "$@" > build2.log 2>&1 || { cat build2.log; fail "second build failed"; }
  if grep -q '^cc ' build2.log; then cat build2.log; fail "something rebuilt with no change"; fi
  expect_check a.o.meta=up-to-date b.o.meta=up-to-date main.o.meta=up-to-date prog.meta=up-to-date

  touch a.h
  echo "== a.h touched ($mode)"
  # filemon-meta first (bmake rewrites the .meta files), then bmake.
  expect_check a.o.meta=out-of-date b.o.meta=up-to-date main.o.meta=up-to-date prog.meta=up-to-date
  "$meta_tool" check --compat 20200710 a.o.meta > check-a.log 2>&1 && fail "check a.o.meta: exit 0"
  "$bmake" -r -dM "$@" > build3.log 2>&1 || { cat build3.log; fail "third build failed"; }
  newer="$(grep "is newer than the target" build3.log)" || { cat build3.log; fail "no 'newer' message"; }
  [[ "$newer" == "$here/a.o.meta: "*": file '$here/a.h' is newer than the target..." ]] ||
    fail "bmake's 'newer' messages are not exactly one for a.h in a.o.meta: $newer"
  [[ "$(sed -n 1p check-a.log)" == "out-of-date: newer" ]] || { cat check-a.log; fail "check a.o.meta"; }
  grep -qxF "$newer" check-a.log || { cat check-a.log; fail "filemon-meta's message differs from bmake's: $newer"; }
  # bmake rebuilt exactly the targets filemon-meta found out of date (prog is relinked because
  # a.o is newer, an ordinary make rule; its .meta itself was up to date for both).
  grep -q '^cc -c a\.c -o a\.o$' build3.log || { cat build3.log; fail "a.o was not rebuilt"; }
  if grep -q '^cc -c b\.c\|^cc -c main\.c' build3.log; then
    cat build3.log; fail "more than a.o (and prog) rebuilt"
  fi
  grep -q '^cc -o prog' build3.log || { cat build3.log; fail "prog was not relinked"; }

  touch -d '1 minute ago' ./*
  echo "== after the rebuild ($mode)"
  expect_check a.o.meta=up-to-date b.o.meta=up-to-date main.o.meta=up-to-date prog.meta=up-to-date
  "$bmake" -r "$@" > build4.log 2>&1 || { cat build4.log; fail "fourth build failed"; }
  if grep -q '^cc ' build4.log; then cat build4.log; fail "something rebuilt after the rebuild"; fi
  echo "ok ($mode)"
}

run_project ""
run_project "-j2" -j2
echo PASS
