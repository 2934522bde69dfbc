#!/usr/bin/env bash
# tests/expected/win-reg-merge/make.sh: regenerate what tools/tests/win_reg_merge.rs
# compares gx-win-reg --merge against, with libguestfs's virt-win-reg and
# virt-inspector (the peer). For each line of CASES, on a fresh copy of
# images/out/windows.img:
#
#   LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
#     virt-win-reg --merge [OPTIONS] COPY REG...
#   virt-inspector -a COPY > NAME.inspector.xml
#   virt-win-reg COPY KEY > NAME.N.reg          (one per KEY, N from 1)
#
# (../shared/bin/peer sets those variables.) Run images/build.sh first.
# virt-win-reg runs hivexget for HKU\SID paths: apt-get install libhivex-bin.
# Each peer run takes 15-20 s under TCG. `make.sh NAME...` remakes only
# those cases.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PEER=${PEER:-$ROOT/../shared/bin/peer}
[ -x "$PEER" ] || PEER=/work/shared/bin/peer
command -v hivexget >/dev/null || { echo "make.sh: hivexget not found (apt-get install libhivex-bin)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$HERE/CASES" | while IFS=$'\t' read -r name opts regs keys; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  img=$tmp/$name.img
  cp "$ROOT/images/out/windows.img" "$img"
  o=(); [ "$opts" = "-" ] || read -ra o <<<"$opts"
  r=(); for f in $regs; do r+=("$HERE/$f"); done
  echo "virt-win-reg --merge ${o[*]} $name.img $regs" >&2
  "$PEER" virt-win-reg --merge "${o[@]}" "$img" "${r[@]}" </dev/null
  "$PEER" virt-inspector -a "$img" >"$HERE/$name.inspector.xml" </dev/null
  n=0
  IFS=$'\t' read -ra ks <<<"$keys"
  for k in "${ks[@]}"; do
    n=$((n + 1))
    echo "virt-win-reg $name.img '$k'" >&2
    "$PEER" virt-win-reg "$img" "$k" >"$HERE/$name.$n.reg" </dev/null
  done
  rm -f "$img"
done
