#!/usr/bin/env bash
# Records what `virt-rescue --suggest` (libguestfs, through ../shared/bin/peer)
# prints for the test images, as the expected output of gx-rescue --suggest
# (tools/tests/rescue.rs).
#
#   tests/expected/rescue/make.sh
#
# Writes suggest-NAME.out (stdout) and suggest-NAME.rc per image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
cd "$root/images/out"
for img in linux.img windows.img multi.img libguestfs-fedora.img probe/swap.img phony-ubuntu.img; do
  name=$(basename "$img" .img)
  ("$peer" virt-rescue --suggest --format=raw -a "$img" >"$here/suggest-$name.out"
   echo $? >"$here/suggest-$name.rc") || echo $? >"$here/suggest-$name.rc"
done
