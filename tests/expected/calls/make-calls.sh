#!/usr/bin/env bash
# Records guestfish's output for each *.fish script here on the test images,
# as the expected output of gx-fish running the same script (crates/guestfs
# tests/calls.rs). Run after changing a script or images/build.sh.
#   tests/expected/calls/make-calls.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
bash "$root/images/build.sh" "$root/images/out"
cd "$root/images/out"
# name  image  options
ONLY=${ONLY:-*}
while read -r name img opts; do
  [ -n "$name" ] || continue
  case "$name" in $ONLY) ;; *) continue ;; esac
  rc=0
  "$peer" guestfish --ro $opts -a "$img" -f "$here/$name.fish" \
      >"$here/$name.out" 2>"$here/$name.err" || rc=$?
  echo "$rc" >"$here/$name.rc"
  [ -s "$here/$name.err" ] || rm -f "$here/$name.err"
  echo "make-calls: $name (exit $rc)" >&2
done <<'LIST'
linux linux.img --format=raw
windows windows.img --format=raw
multi multi.img --format=raw
xfs xfs.img --format=raw
ubuntu phony-ubuntu.img --format=raw
lvm-rhel6 lvm-rhel6.img --format=raw
lvm-rhel9 lvm-rhel9.img --format=raw
lvm-span lvm-span-b.img --format=raw -a lvm-span-a.img
LIST
