#!/usr/bin/env bash
# Records what virt-edit (libguestfs, through ../shared/bin/peer) prints for
# the cases tools/tests/edit.rs checks gx-edit's messages against. Each case
# runs on a fresh copy of an image from images/build.sh.
#
#   tests/expected/edit/make.sh
#
# Writes, per case NAME: NAME.out (stdout), NAME.err (stderr), NAME.rc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
imgs=$root/images/out
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case_() {
  local name=$1; shift
  cp "$imgs/linux.img" "$tmp/linux.img"
  cp "$imgs/windows.img" "$tmp/windows.img"
  (cd "$tmp" && "$@" >"$here/$name.out" 2>"$here/$name.err"; echo $? >"$here/$name.rc") || true
  # Random names the tool drew (the temporary file, the upload's new name).
  sed -i -e 's|/tmp/libguestfs[A-Za-z0-9]*|/tmp/libguestfsXXXXXX|g' \
    -e 's|upload: /etc/[a-z0-9]\{8\}:|upload: /etc/XXXXXXXX:|' "$here/$name.err"
}
case_ missing "$peer" virt-edit -a linux.img /etc/nonexistent -e 's/a/b/'
case_ dir "$peer" virt-edit -a linux.img /etc -e 's/a/b/'
case_ die "$peer" virt-edit -a linux.img /etc/hostname -e 'die "boom\n"'
case_ romount "$peer" virt-edit -a linux.img -m /dev/sda2:/:ro /etc/hostname -e 's/^/x/'
case_ twob "$peer" virt-edit -a linux.img -b .a -b .b /etc/hostname
case_ twoe "$peer" virt-edit -a linux.img -e a -e b /etc/hostname
case_ nofile "$peer" virt-edit -a linux.img
case_ nodrive "$peer" virt-edit /etc/hostname
case_ editorfalse env EDITOR=false "$peer" virt-edit -a linux.img /etc/hostname
case_ editortrue env EDITOR=true "$peer" virt-edit -a linux.img /etc/hostname
case_ dangling "$peer" virt-edit -a linux.img /etc/testdir/link-dangling -e 's/a/b/'
