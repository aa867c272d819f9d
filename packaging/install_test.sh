#!/usr/bin/env bash
# //:install puts a working layout under a prefix: the installed filemon finds the preload
# library in PREFIX/lib/filemon, and a filemon copied away from it falls back to ptrace under
# `auto` (saying so in the log) instead of failing.
set -euo pipefail
install=$1 manifest=$2
prefix=$TEST_TMPDIR/prefix
"$install" "$manifest" --prefix "$prefix"
for f in bin/filemon bin/filemon-meta lib/filemon/libfilemon_preload.so \
  lib/filemon/filemon_preload_helper lib/libbmake-filemon.so include/filemon/core/backend.h \
  include/filemon/core/filemon.pb.h include/filemon/meta/checker.h; do
  [ -e "$prefix/$f" ] || { echo "missing $prefix/$f"; exit 1; }
done
# No runfiles: only the installed layout can lead to the library.
bare() { env -u RUNFILES_DIR -u TEST_SRCDIR -u RUNFILES_MANIFEST_FILE -u FILEMON_PRELOAD_DIR "$@"; }

bare "$prefix/bin/filemon" --backend=preload -o "$TEST_TMPDIR/preload.log" -- /bin/cat /dev/null
grep -q "^R [0-9]* /dev/null$" "$TEST_TMPDIR/preload.log" || {
  echo "installed preload: no R record"; cat "$TEST_TMPDIR/preload.log"; exit 1; }

mkdir -p "$TEST_TMPDIR/alone"
cp "$prefix/bin/filemon" "$TEST_TMPDIR/alone/filemon"
bare "$TEST_TMPDIR/alone/filemon" --backend=auto -o "$TEST_TMPDIR/auto.log" -- /bin/cat /dev/null
grep -q "^# auto: libfilemon_preload.so not found.*tracing every command with ptrace" \
  "$TEST_TMPDIR/auto.log" || { echo "auto: no fallback note"; cat "$TEST_TMPDIR/auto.log"; exit 1; }
grep -q "^R [0-9]* /dev/null$" "$TEST_TMPDIR/auto.log" || {
  echo "auto fallback: no R record"; cat "$TEST_TMPDIR/auto.log"; exit 1; }
if bare "$TEST_TMPDIR/alone/filemon" --backend=preload -o "$TEST_TMPDIR/p.log" -- /bin/true \
  2>"$TEST_TMPDIR/err"; then
  echo "preload without its library succeeded"; exit 1
fi
grep -q "cannot find libfilemon_preload.so" "$TEST_TMPDIR/err" || { cat "$TEST_TMPDIR/err"; exit 1; }
echo PASS
