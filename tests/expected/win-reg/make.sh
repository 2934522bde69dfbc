#!/usr/bin/env bash
# tests/expected/win-reg/make.sh: regenerate the expected gx-win-reg outputs
# with libguestfs's virt-win-reg, for each line of COMMANDS:
#
#   LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
#     virt-win-reg [--options] images/out/windows.img KEY [VALUE] > OUTFILE
#
# (../shared/bin/peer sets those variables.) Run images/build.sh first.
# virt-win-reg runs hivexget for values and HKU\SID paths: apt-get install
# libhivex-bin (not pulled in by libguestfs-tools --no-install-recommends).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PEER=${PEER:-$ROOT/../shared/bin/peer}
[ -x "$PEER" ] || PEER=/work/shared/bin/peer
grep -v '^#' "$HERE/COMMANDS" | while IFS=$'\t' read -r out a b c; do
  [ -n "$out" ] || continue
  args=()
  for x in "$a" "$b" "$c"; do [ -n "$x" ] && args+=("$x"); done
  opts=(); rest=()
  for x in "${args[@]}"; do case $x in --*) opts+=("$x");; *) rest+=("$x");; esac; done
  echo "virt-win-reg ${opts[*]} images/out/windows.img ${rest[*]}" >&2
  "$PEER" virt-win-reg "${opts[@]}" "$ROOT/images/out/windows.img" "${rest[@]}" >"$HERE/$out.tmp" </dev/null
  mv "$HERE/$out.tmp" "$HERE/$out"
done
