#!/usr/bin/env bash
# bazel run //:install -- --prefix DIR [--dry-run]
# Copies filemon's programs, the preload library and helper, libbmake-filemon.so and the public
# headers under DIR (created if missing; relative to where `bazel run` was typed):
#   DIR/bin/filemon, DIR/bin/filemon-meta
#   DIR/lib/filemon/libfilemon_preload.so, DIR/lib/filemon/filemon_preload_helper
#   DIR/lib/libbmake-filemon.so
#   DIR/include/filemon/{core,meta,backends}/*.h
# The programs find lib/filemon/ from bin/ (filemon/backends/preload/preload_backend.h).
set -euo pipefail
manifest=$1
shift
prefix="" dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "install: unexpected argument '$1' (usage: --prefix DIR [--dry-run])" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install: needs --prefix DIR" >&2; exit 2; }
case "$prefix" in
  /*) ;;
  *) prefix="${BUILD_WORKING_DIRECTORY:-$PWD}/$prefix" ;;
esac
while read -r mode dest source; do
  [ -n "$mode" ] || continue
  if [ "$dry_run" = 1 ]; then
    echo "$prefix/$dest"
  else
    # (not install(1): under `bazel run` the runfiles directory, first in PATH, has ./install)
    mkdir -p "$(dirname "$prefix/$dest")"
    cp -f "$source" "$prefix/$dest"
    chmod "$mode" "$prefix/$dest"
  fi
done <"$manifest"
[ "$dry_run" = 1 ] || echo "installed filemon under $prefix" >&2
