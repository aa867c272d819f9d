#!/usr/bin/env bash
# bmake's meta mode on Linux with this library serving its filemon calls (scripts/bmake-filemon).
#
#   scripts/bmake-filemon     # builds and installs bazel-bin/bmake-filemon/bin/bmake
#   bazel test --test_env=BMAKE_FILEMON=$PWD/bazel-bin/bmake-filemon/bin/bmake \
#       //filemon/backends:bmake_meta_integration_test
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
[[ -n "$bmake" ]] || fail "BMAKE_FILEMON is not set: run scripts/bmake-filemon, then bazel test --test_env=BMAKE_FILEMON=\$PWD/bazel-bin/bmake-filemon/bin/bmake ..."
[[ -x "$bmake" ]] || fail "BMAKE_FILEMON=$bmake is not an executable"
meta_tool="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ "$("$bmake" -r -f /dev/null -V .MAKE.PATH_FILEMON)" == "ptrace" ]] ||
  fail "$bmake is not built with this library (.MAKE.PATH_FILEMON is not 'ptrace')"

run_project() {
  local mode="$1"; shift  # the extra bmake arguments (e.g. -j2)
  local dir="$TEST_TMPDIR/project$mode"
  rm -rf "$dir"
  mkdir -p "$dir"
  cd "$dir"
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
  "$meta_tool" check ./*.meta > check2.log 2>&1 || true
  for m in a.o.meta b.o.meta main.o.meta prog.meta; do
    grep -q "$m.*up to date\|$m: ok\|$m: up-to-date" check2.log ||
      { cat check2.log; fail "filemon-meta check disagrees with bmake: $m is up to date"; }
  done

  touch a.h
  echo "== a.h touched ($mode)"
  "$meta_tool" check ./*.meta > check3.log 2>&1 || true
  "$bmake" -r -dM "$@" > build3.log 2>&1 || { cat build3.log; fail "third build failed"; }
  grep -q "a\.o\.meta: [0-9]*: file '.*a\.h' is newer than the target\.\.\." build3.log ||
    { cat build3.log; fail "no 'newer' message for a.h"; }
  grep -q '^cc -c a\.c -o a\.o$' build3.log || { cat build3.log; fail "a.o was not rebuilt"; }
  if grep -q '^cc -c b\.c\|^cc -c main\.c' build3.log; then
    cat build3.log; fail "more than a.o (and prog) rebuilt"
  fi
  grep -q '^cc -o prog' build3.log || { cat build3.log; fail "prog was not relinked"; }
  grep -q "a.o.meta.*out of date\|a.o.meta: out-of-date\|a.o.meta: oodate" check3.log ||
    { cat check3.log; fail "filemon-meta check disagrees with bmake: a.o.meta is out of date"; }
  for m in b.o.meta main.o.meta; do
    grep -q "$m.*up to date\|$m: ok\|$m: up-to-date" check3.log ||
      { cat check3.log; fail "filemon-meta check disagrees with bmake: $m is up to date"; }
  done
  echo "ok ($mode)"
}

run_project "" 
run_project "-j2" -j2
echo PASS
