# The make workload of trace_overhead.sh and probe_volume.sh, sourced by both: Debian's bmake
# source (apt-get source bmake into $SCRATCH; a deb-src entry for Debian's archive is added if
# missing) built with `make -j2 -f Makefile.boot`.
#   setup_make      fetches and configures the source once (sets BMAKE_SRC)
#   prepare_make    `make clean` (untimed)
#   run_make PREFIX the build, under PREFIX (a tracer's command line, or empty)
# Needs $SCRATCH.

BMAKE_CFLAGS='-O2 -g -D__COPYRIGHT\(x\)= -D__RCSID\(x\)= -I. -DHAVE_CONFIG_H -DNEED_HOST_CDEFS_H'
BMAKE_CFLAGS="$BMAKE_CFLAGS -DMAKE_NATIVE -DUSE_META -Wno-unused"

setup_make() {
  local src
  src=$(ls -d "$SCRATCH"/bmake-[0-9]*/ 2>/dev/null | head -1 || true)
  if [[ -z "$src" ]]; then
    if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "bmake_workload.sh: adding a deb-src entry for Debian's archive" >&2
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$(. /etc/os-release && echo "$VERSION_CODENAME")" > /etc/apt/sources.list.d/filemon-deb-src.sources
      apt-get update -o DPkg::Lock::Timeout=300 >&2
    fi
    (cd "$SCRATCH" && apt-get source bmake >&2)
    src=$(ls -d "$SCRATCH"/bmake-[0-9]*/ | head -1)
  fi
  BMAKE_SRC=${src%/}
  (cd "$BMAKE_SRC" && [[ -f config.h ]] || ./configure --with-machine=debian >/dev/null)
}
prepare_make() { make -s -C "$BMAKE_SRC" -f Makefile.boot clean >/dev/null 2>&1 || true; }
run_make() { (cd "$BMAKE_SRC" && $1 make -s -j2 -f Makefile.boot CFLAGS="$BMAKE_CFLAGS"); }
