#!/usr/bin/env bash
# Appliance benchmark, side by side with libguestfs on the same machine:
# median launch time over 5 runs, up/download throughput, then
# `guestfish -a /dev/null run` (libguestfs, TCG) timed the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p gx-agent
cargo build -q --release -p gx-appliance --example bench
echo "== guestx appliance (QEMU microvm, $(uptime | sed 's/.*load/load/'))"
"$CARGO_TARGET_DIR/release/examples/bench" "${RUNS:-5}" "${MB:-100}"
if [ -x ../shared/bin/peer ] || [ -x /work/shared/bin/peer ]; then
  PEER=../shared/bin/peer; [ -x "$PEER" ] || PEER=/work/shared/bin/peer
  echo "== libguestfs: guestfish -a /dev/null run"
  times=()
  for _ in $(seq "${PEER_RUNS:-3}"); do
    s=$(date +%s%N); "$PEER" guestfish -a /dev/null run >/dev/null 2>&1; e=$(date +%s%N)
    times+=("$(( (e - s) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "median " a[int((NR+1)/2)] " ms of " NR ": " a[1] " .. " a[NR] " ms"}'
fi
