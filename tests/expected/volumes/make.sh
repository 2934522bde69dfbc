#!/usr/bin/env bash
# Records what libguestfs prints for the LVM and LUKS guests of
# images/volumes.sh: tests/expected/volumes/NAME (stdout), NAME.err (stderr,
# when any) and COMMANDS (NAME<TAB>EXIT-CODE<TAB>COMMAND, run in images/out),
# plus tests/expected/inspector/IMAGE.xml for virt-inspector. Run it again
# after changing images/volumes.sh. ONLY='glob' limits what is re-made.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
ONLY=${ONLY:-*}
bash "$root/images/build.sh" "$root/images/out"
cd "$root/images/out"
touch "$here/COMMANDS"

cap() { # NAME CMD...
  local name=$1; shift
  # shellcheck disable=SC2053
  [[ $name == $ONLY ]] || return 0
  local rc=0
  "$peer" "$@" >"$here/$name" 2>"$here/$name.err" || rc=$?
  [ -s "$here/$name.err" ] || rm -f "$here/$name.err"
  grep -v "^$name	" "$here/COMMANDS" >"$here/COMMANDS.new" || true
  printf '%s\t%s\t%s\n' "$name" "$rc" "$*" >>"$here/COMMANDS.new"
  sort -o "$here/COMMANDS" "$here/COMMANDS.new"; rm -f "$here/COMMANDS.new"
  echo "volumes/make.sh: $name (exit $rc)" >&2
}
inspect() { # IMAGE [ARGS...]
  local img=$1; shift
  # shellcheck disable=SC2053
  [[ insp-$img == $ONLY ]] || return 0
  "$peer" virt-inspector --format=raw "$@" -a "$img" >"$root/tests/expected/inspector/$img.xml"
  echo "volumes/make.sh: inspector/$img.xml" >&2
}

cap fs-lvm-rhel6 virt-filesystems -a lvm-rhel6.img --all --long --uuid
cap fs-lvm-rhel6-h virt-filesystems -a lvm-rhel6.img --all --long -h
cap fs-lvm-span virt-filesystems -a lvm-span-a.img -a lvm-span-b.img --all --long --uuid
cap fs-libguestfs-debian virt-filesystems -a libguestfs-debian.img --all --long --uuid
cap fs-libguestfs-fedora virt-filesystems -a libguestfs-fedora.img --all --long --uuid --csv
cap cat-span-stripes virt-cat -a lvm-span-a.img -a lvm-span-b.img -m /dev/data-vg/stripes /hello.txt
cap ls-rhel6-mapper virt-ls -a lvm-rhel6.img -m /dev/mapper/vg_rhel6-lv_root -l /etc
cap df-lvm-rhel6 virt-df -a lvm-rhel6.img
inspect lvm-rhel6.img
