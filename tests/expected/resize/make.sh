#!/usr/bin/env bash
# tests/expected/resize/make.sh [CASE...]: runs the peer (libguestfs's
# virt-resize, through ../shared/bin/peer) on every case of cases.txt and
# records what it made; tools/tests/resize.rs runs gx-resize on the same
# cases and compares. Slow: about a minute a case under TCG.
# Per case NAME: NAME.rc, NAME.stdout (the "[  12.3] " timestamps cut),
# NAME.stderr, and when the output disk was written: NAME.sfdisk (sfdisk -d,
# device names cut), NAME.table (for GPT: sgdisk -i of every partition:
# type, unique GUID, first/last sector, attributes, name), NAME.head.bin (the
# first 17408 bytes: MBR or protective MBR, GPT header and entries),
# NAME.tail.bin (the last 33 sectors: the backup GPT), (MBR logical
# partitions are in NAME.sfdisk: their EBRs are copied with the extended one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
bash "$root/images/build.sh" "$root/images/out" >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bash "$here/sources.sh" "$root/images/out" "$work/src"
want=("$@")
while IFS='|' read -r name input size fmt opts; do
  name=$(echo $name); input=$(echo $input); size=$(echo $size); fmt=$(echo $fmt)
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $name " ]]; then continue; fi
  if [ "$input" = - ]; then
    # No disks: virt-resize lists what it supports.
    set +e
    # shellcheck disable=SC2086
    "$peer" virt-resize $opts </dev/null >"$here/$name.stdout" 2>"$here/$name.stderr"
    echo $? >"$here/$name.rc"
    set -e
    continue
  fi
  base=$(basename "$input")
  rm -f "$work"/*.img "$work"/*.qcow2
  case $input in
    src/chain-top.qcow2) cp "$work/src/chain-base.qcow2" "$work/src/chain-top.qcow2" "$work/" ;;
    src/*) cp --sparse=always "$work/$input" "$work/$base" ;;
    *) [ -e "$root/images/out/$input" ] && cp --sparse=always "$root/images/out/$input" "$work/$base" ;;
  esac
  out=$work/out-disk.$fmt; rm -f "$out"
  qemu-img create -q -f "$fmt" "$out" "$size"
  sum0=$(sha256sum "$out" | cut -c1-64)
  extra=(); [ "$fmt" = qcow2 ] && extra=(--output-format qcow2)
  echo "== $name: virt-resize $opts ${extra[*]} $input $size" >&2
  set +e
  # shellcheck disable=SC2086
  (cd "$work" && "$peer" virt-resize $opts "${extra[@]}" "$base" "$(basename "$out")") \
    </dev/null >"$work/stdout" 2>"$here/$name.stderr"
  echo $? >"$here/$name.rc"
  set -e
  sed -E 's/^\[ *[0-9]+\.[0-9]\] /[TIME] /' "$work/stdout" >"$here/$name.stdout"
  sed -i "s#$work/##g" "$here/$name.stderr"
  rm -f "$here/$name.sfdisk" "$here/$name.table" "$here/$name.head.bin" "$here/$name.tail.bin"
  [ "$(sha256sum "$out" | cut -c1-64)" = "$sum0" ] && continue
  raw=$work/out.raw
  qemu-img convert -O raw "$out" "$raw"
  sfdisk -d "$raw" | sed "s#$raw#OUT#" >"$here/$name.sfdisk"
  head -c 17408 "$raw" >"$here/$name.head.bin"
  if grep -q '^label: gpt' "$here/$name.sfdisk"; then
    tail -c $((33 * 512)) "$raw" >"$here/$name.tail.bin"
    n=$(sgdisk -p "$raw" | awk '/^ *[0-9]+ /{print $1}')
    for i in $n; do echo "# $i"; sgdisk -i "$i" "$raw"; done >"$here/$name.table"
  fi
  rm -f "$raw"
done <"$here/cases.txt"
