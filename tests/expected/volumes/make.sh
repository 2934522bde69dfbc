#!/usr/bin/env bash
# Records what libguestfs prints for the LVM, LUKS and XFS-on-LVM guests of
# images/volumes.sh and libguestfs's phony CoreOS (images/phony.sh):
# tests/expected/volumes/NAME (stdout), NAME.err (stderr,
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
inspect() { # IMAGE [ARGS...]: the ARGS are recorded in inspector/ARGS
  local img=$1; shift
  # shellcheck disable=SC2053
  [[ insp-$img == $ONLY ]] || return 0
  "$peer" virt-inspector --format=raw "$@" -a "$img" >"$root/tests/expected/inspector/$img.xml"
  local args=$root/tests/expected/inspector/ARGS
  touch "$args"
  { grep -v "^$img	" "$args" || true; [ $# -gt 0 ] && printf '%s\t%s\n' "$img" "$*"; } >"$args.new"
  mv "$args.new" "$args"
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
cap fs-lvm-on-luks virt-filesystems -a lvm-on-luks.img --all --long
cap fs-luks-on-lvm virt-filesystems -a luks-on-lvm.img --all --long --uuid
cap cat-lvm-on-luks-key virt-cat --key /dev/sda2:key:lvm-on-luks-key -a lvm-on-luks.img /secret.txt
cap cat-lvm-on-luks1-uuid virt-cat --key c0c0c0c0-1111-4000-8000-000000000005:key:lvm-on-luks-key -a lvm-on-luks1.img /etc/sysconfig/network
cap cat-lvm-on-luks-wrong-key virt-cat --key /dev/sda2:key:wrong -a lvm-on-luks.img /secret.txt
cap full-lvm-rhel6 guestfish --ro --format=raw -a lvm-rhel6.img run : pvs-full : vgs-full : lvs-full : lvs : vgs : pvs : lvuuid /dev/vg_rhel6/lv_root : vgpvuuids vg_rhel6 : vglvuuids vg_rhel6 : lvm-canonical-lv-name /dev/mapper/vg_rhel6-lv_swap
cap fs-libguestfs-coreos virt-filesystems -a libguestfs-coreos.img --all --long --uuid
cap fs-libguestfs-coreos-plain virt-filesystems -a libguestfs-coreos.img --all --long
# virt-filesystems 1.48 has no --key: the LUKS guests are listed locked.
cap fs-libguestfs-fedora-lvm-on-luks virt-filesystems -a libguestfs-fedora-lvm-on-luks.img --all --long --uuid
cap fs-libguestfs-fedora-luks-on-lvm virt-filesystems -a libguestfs-fedora-luks-on-lvm.img --all --long --uuid
cap fs-lvm-rhel9 virt-filesystems -a lvm-rhel9.img --all --long --uuid
cap fs-lvm-rhel9-plain virt-filesystems -a lvm-rhel9.img --all --long
cap fs-lvm-rhel9-extra virt-filesystems -a lvm-rhel9.img --filesystems --extra --long --csv
cap df-lvm-rhel9 virt-df -a lvm-rhel9.img
cap df-lvm-rhel9-h virt-df -a lvm-rhel9.img -h
cap ls-lvm-rhel9-etc virt-ls -a lvm-rhel9.img -m /dev/rhel/root -l /etc
cap ls-lvm-rhel9-boot virt-ls -a lvm-rhel9.img -m /dev/mapper/rhel-root -m /dev/sda2:/boot -m /dev/sda1:/boot/efi -lR /boot
cap cat-lvm-rhel9-os-release virt-cat -a lvm-rhel9.img /etc/os-release
cap cat-lvm-rhel9-grub virt-cat -a lvm-rhel9.img /boot/grub2/grub.cfg
cap fs-lvm-rhel9-luks virt-filesystems -a lvm-rhel9-luks.img --all --long --uuid
cap cat-lvm-rhel9-luks-key virt-cat --key /dev/sda3:key:rhel9-luks-key -a lvm-rhel9-luks.img /etc/os-release
cap ls-lvm-rhel9-luks-etc virt-ls --key /dev/sda3:key:rhel9-luks-key -a lvm-rhel9-luks.img -l /etc
inspect lvm-rhel6.img
inspect lvm-rhel9.img
inspect libguestfs-coreos.img
inspect lvm-on-luks.img --no-applications --key /dev/sda2:key:lvm-on-luks-key
inspect lvm-rhel9-luks.img --key /dev/sda3:key:rhel9-luks-key
