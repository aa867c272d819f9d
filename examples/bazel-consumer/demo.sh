#!/usr/bin/env bash
# The builder's demo: first build compiles all, the second nothing, touching a header rebuilds
# exactly its users, a changed flag rebuilds all, and a failed compile stays out of date.
set -euo pipefail
builder=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=${TEST_TMPDIR:-$(mktemp -d)}/demo
rm -rf "$work" && mkdir -p "$work/src"
cd "$work"
cat >src/common.h <<'C'
int a(void);
int b(void);
C
printf '#include "common.h"\nint a(void) { return 1; }\n' >src/a.c
printf 'int b(void) { return 2; }\n' >src/b.c
printf '#include "common.h"\nint main(void) { return a() + b() - 3; }\n' >src/main.c

step() {  # step NAME EXPECTED-LINES [FLAGS...]: one build, its "built/FAILED" lines sorted
  local name=$1 expected=$2 got
  shift 2
  got=$("$builder" "$work/src" "$work/obj" "$@" | sort | tr '\n' ' ' || true)
  if [ "$got" != "$expected" ]; then
    echo "FAIL $name: expected '$expected', got '$got'"
    exit 1
  fi
  echo "ok   $name: ${got:-(nothing)}"
}

step "first build compiles all" "built a.o built b.o built main.o built prog "
./obj/prog
# The preload library was found in the builder's runfiles (auto did not fall back to ptrace).
! grep -q 'libfilemon_preload.so not found' obj/*.meta || { echo "FAIL: auto fell back"; exit 1; }
step "second build does nothing" ""
touch src/common.h
step "touching common.h rebuilds its users" "built a.o built main.o built prog "
step "a changed flag rebuilds all" "built a.o built b.o built main.o built prog " -O2
step "same flag again: nothing" "" -O2
printf 'int b(void) { return 2 }\n' >src/b.c
step "a failed compile" "FAILED b.o " -O2
grep -q '^\*\*\* Error code 1$' obj/b.o.meta || { echo "FAIL: no error code in b.o.meta"; exit 1; }
[ ! -e obj/b.o ] || { echo "FAIL: the failed target is still there"; exit 1; }
step "still out of date after the failure" "FAILED b.o " -O2
printf 'int b(void) { return 2; }\n' >src/b.c
step "fixed: b.o and the link" "built b.o built prog " -O2
./obj/prog
echo PASS
