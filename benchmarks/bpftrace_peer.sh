#!/usr/bin/env bash
# Runs a command under bpftrace with filemon_peer.bt (the bpftrace peer of the ebpf backend):
#   benchmarks/bpftrace_peer.sh LOG COMMAND [ARGS...]
# `bpftrace -c` takes one string, splits it at spaces and runs only ELF programs, so the
# command goes into a script run by bash (which execs it: same pid).
# Needs root; mounts tracefs (which Debian does not mount) if it is missing.
set -euo pipefail
log=$1
shift
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
cmd=$(mktemp "${TMPDIR:-/tmp}/bpftrace-cmd-XXXXXX")
trap 'rm -f "$cmd"' EXIT
{ printf '#!/usr/bin/env bash\nexec'; printf ' %q' "$@"; printf '\n'; } > "$cmd"
chmod +x "$cmd"
bpftrace -q -o "$log" -c "/bin/bash $cmd" "$(dirname "$0")/filemon_peer.bt" 2> >(grep -v RLIMIT_MEMLOCK >&2)
