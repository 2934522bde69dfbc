#!/usr/bin/env bash
# images/volumes.sh [OUTDIR]: guests on LVM and LUKS (default OUTDIR:
# images/out). Called by build.sh; its own cache stamp (this script,
# helpers.py, the phony data) and lock.
#
# No loop device and no device-mapper are needed (CI may have neither):
# - LVM2 PV labels and VG metadata are written by helpers.py lvm-format (the
#   layout pvcreate/vgcreate/lvcreate of LVM2 2.03 write; checked by lvm's own
#   pvck and, where loop devices exist, vgs/lvs), and filesystem images are
#   placed into the LVs' extents, stripes included, by helpers.py lvm-put.
# - LUKS volumes are made by cryptsetup itself on plain files: `cryptsetup
#   reencrypt --encrypt --reduce-device-size 4M` encrypts a file that holds a
#   filesystem image in place (offline, no dm; the data moves 2 MiB up behind
#   the new header), and `cryptsetup convert --type luks1` turns a LUKS2 with a
#   pbkdf2 key slot into LUKS1. Key material and salts are random, so these
#   images differ from build to build; their filesystems (UUIDs, labels,
#   files) do not. Each LUKS container's plaintext is the filesystem image
#   followed by zeros; its SHA-256 is kept in OUTDIR/volumes/*.sha256 as an
#   oracle for decryption tests.
#
# Guests (device names as libguestfs gives them; PV/VG/LV UUIDs fixed):
# lvm-rhel6.img      RHEL 6 style, 96 MiB MBR: sda1 (sectors 2048-34815)
#                    ext4 /boot, UUID $R6_BOOT_UUID; sda2 (34816-end) a PV of
#                    VG "vg_rhel6" (4 MiB extents) with LVs lv_root (40 MiB,
#                    ext4, label "root", UUID $R6_ROOT_UUID) and lv_swap (8 MiB,
#                    swap, UUID $R6_SWAP_UUID). fstab names
#                    /dev/mapper/vg_rhel6-lv_root, UUID= for /boot and
#                    /dev/mapper/vg_rhel6-lv_swap. /etc/redhat-release "Red
#                    Hat Enterprise Linux Server release 6.10 (Santiago)",
#                    /etc/sysconfig/network HOSTNAME=rhel6.test, rpm 4.8's
#                    Berkeley DB Packages with the phony Fedora headers.
# lvm-rhel9.img      RHEL 9 style, XFS on LVM, 192 MiB GPT (disk GUID
#                    $R9_DISK): sda1 (2048-34815) "EFI System Partition"
#                    (EF00), FAT16 id $R9_ESP_ID, no label, EFI/redhat/{shimx64.efi,
#                    grubx64.efi,grub.cfg}, EFI/BOOT/BOOTX64.EFI; sda2
#                    (34816-133119) XFS v5 /boot, UUID $R9_BOOT_UUID
#                    (grub2/grub.cfg, loader/entries/*.conf, a vmlinuz);
#                    sda3 (133120-end, 8E00) a PV of VG "rhel" (4 MiB extents)
#                    with LVs root (96 MiB, XFS v5, UUID $R9_ROOT_UUID, no
#                    label) and swap (8 MiB, UUID $R9_SWAP_UUID). The root is a
#                    usr-merged RHEL 9.3 tree: /etc/os-release (ID="rhel",
#                    VERSION_ID="9.3"), /etc/redhat-release, /etc/hostname
#                    rhel9.test, fstab with /dev/mapper/rhel-root, UUID= for
#                    /boot and /boot/efi, /dev/mapper/rhel-swap; the phony
#                    Fedora rpm database as rpmdb.sqlite; /usr/bin/ls (ELF
#                    x86-64); a 96x96 system-logo-icon.png behind a symlink.
#                    Every XFS passes xfs_repair -n.
# lvm-rhel9-luks.img the same disk as an installer's "encrypt my data" makes
#                    it: sda3 a LUKS2 container (UUID $R9L_LUKS_UUID,
#                    aes-xts-plain64, 512-byte sectors, Argon2id key slot: 4
#                    passes, 1 MiB, 1 thread; passphrase $R9L_KEY) holding
#                    the PV of VG "rhel" (another VG UUID) with the same root
#                    and swap LVs and filesystems.
# lvm-span-a.img + lvm-span-b.img  one VG "data-vg" over two disks: a.img is
#                    GPT (sda1 sectors 2048-end, type 8E00, a PV "pv0"), b.img
#                    is an unpartitioned PV ("pv1"). LVs: "big-lv" (24 MiB,
#                    linear, extents 0-3 on pv0 then 0-1 on pv1, ext4 label
#                    "big", UUID $SPAN_BIG_UUID, /big-file of 16 MiB pattern
#                    data crossing the PV boundary), "stripes" (16 MiB,
#                    striped over pv0 and pv1 with 64 KiB stripes, ext4 label
#                    "striped", UUID $SPAN_STRIPED_UUID).
# libguestfs-debian.img  libguestfs's phony Debian (test-data/phony-guests/
#                    make-debian-img.sh), smaller: 96 MiB MBR, sda1 ext2 4k
#                    label BOOT /boot, sda2 PV of VG "debian": root, usr, var,
#                    home (ext2 4k, UUIDs ...902-...905).
# libguestfs-ubuntu.img  libguestfs's phony Ubuntu (make-ubuntu-img.sh),
#                    smaller: 64 MiB MBR, sda1 ext2 4k label BOOT /boot, sda2
#                    ext2 4k root (UUIDs ...901, ...902), no LVM.
# libguestfs-archlinux.img  libguestfs's phony Arch Linux
#                    (make-archlinux-img.sh), smaller: 64 MiB MBR, sda1 ext4
#                    4k root (UUID ...902) with one pacman package.
# libguestfs-fedora.img  libguestfs's phony Fedora (make-fedora-img.pl,
#                    LAYOUT=partitions), smaller: 96 MiB MBR, sda1 ext2 /boot
#                    (label BOOT), sda2 PV of VG "VG": Root (ext2 4k, label
#                    ROOT), LV1, LV2, LV3 (ext2 4k/1k/2k, empty).
# lvm-on-luks.img    80 MiB MBR: sda1 ext4 /boot (UUID $LL_BOOT_UUID); sda2 LUKS2
#                    (UUID $LL_LUKS_UUID, aes-xts-plain64, 4096-byte sectors,
#                    Argon2id key slot: 4 passes, 1 MiB, 1 thread; passphrase
#                    $LL_KEY) holding a PV of VG "vg_crypt": lv_root (ext4,
#                    label "croot", UUID $LL_ROOT_UUID, 4 KiB blocks as the
#                    4096-byte crypt sectors require, a RHEL 6 style tree
#                    with hostname crypt.test and /secret.txt) and lv_swap.
# lvm-on-luks1.img   the same disk with the container as LUKS1 (UUID
#                    $LL1_LUKS_UUID, aes-cbc-essiv:sha256, PBKDF2-SHA1, 1000
#                    iterations, same passphrase).
# luks-on-lvm.img    48 MiB unpartitioned PV of VG "vg-enc": LV "plain" (ext4
#                    label "plain") and LV "secret-lv", a LUKS2 container (UUID
#                    $LO_LUKS_UUID, PBKDF2-SHA256 1000 iterations, 512-byte
#                    sectors, passphrase $LO_KEY) holding ext4 label
#                    "secret" with /secret.txt.
# libguestfs-fedora-lvm-on-luks.img  libguestfs's fedora-lvm-on-luks layout:
#                    the Fedora guest above with sda2 a LUKS2 container (key
#                    "FEDORA", UUID $FLL_UUID, Argon2id) holding the PV of VG "VG".
# libguestfs-fedora-luks-on-lvm.img  libguestfs's fedora-luks-on-lvm: VG
#                    "Volume-Group" on sda2 with LVs Root, Logical-Volume-1..3,
#                    each a LUKS2 container (keys FEDORA-Root, FEDORA-LV1,
#                    FEDORA-LV2, and "FEDORA\0LV3" with a NUL; UUIDs
#                    $FLO_UUID1..4) holding ext2 labelled ROOT, LV1, LV2, LV3.
# The passphrases are kept as OUTDIR/volumes/*.key for the tests.
# Expected inspection of the libguestfs guests: guestfs-tools'
# inspector/expected-*.img.xml (tests/expected/libguestfs-phony/).
set -euo pipefail
export LC_ALL=C TZ=UTC
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PHONY=${GX_PHONY_DATA:-$HERE/phony-data}

KEY=$(cat "$HERE/volumes.sh" "$HERE/xfs.sh" "$HERE/helpers.py" "$PHONY/debian-packages" \
  "$PHONY/fedora-db.sql.xz" "$PHONY/archlinux-package" | sha256sum | cut -d' ' -f1)
STAMP=$OUT/.volumes-stamp
stamp_ok() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ]; }
stamp_ok && exit 0
exec 7>"$OUT/.volumes-lock"
flock 7
stamp_ok && exit 0

export SOURCE_DATE_EPOCH=1704164645
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
PYTHON=$(command -v /usr/bin/python3 || command -v python3)
HELP=("$PYTHON" -S "$HERE/helpers.py")
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/out/volumes"
SEED=5eed5eed-0000-4000-8000-00000000000a

R6_BOOT_UUID=6e6e6e6e-0000-4000-8000-000000000001
R6_ROOT_UUID=6e6e6e6e-0000-4000-8000-000000000002
R6_SWAP_UUID=6e6e6e6e-0000-4000-8000-000000000003
SPAN_BIG_UUID=5a5a0000-0000-4000-8000-000000000001
SPAN_STRIPED_UUID=5a5a0000-0000-4000-8000-000000000002
LG=01234567-0123-0123-0123-01234567890
LL_BOOT_UUID=c0c0c0c0-0000-4000-8000-000000000001
LL_ROOT_UUID=c0c0c0c0-0000-4000-8000-000000000002
LL_SWAP_UUID=c0c0c0c0-0000-4000-8000-000000000003
LL_LUKS_UUID=c0c0c0c0-1111-4000-8000-000000000004
LL1_LUKS_UUID=c0c0c0c0-1111-4000-8000-000000000005
LO_LUKS_UUID=c0c0c0c0-1111-4000-8000-000000000006
FLL_UUID=f0f0f0f0-1111-4000-8000-000000000001
FLO_UUID1=f0f0f0f0-1111-4000-8000-000000000011
FLO_UUID2=f0f0f0f0-1111-4000-8000-000000000012
FLO_UUID3=f0f0f0f0-1111-4000-8000-000000000013
FLO_UUID4=f0f0f0f0-1111-4000-8000-000000000014
LL_KEY=lvm-on-luks-key
LO_KEY=luks-on-lvm-key

# mkfs_tree TYPE IMG SIZE SRC UUID LABEL [mke2fs options]: reproducible ext*.
mkfs_tree() {
  local type=$1 img=$2 size=$3 src=$4 uuid=$5 label=$6; shift 6
  rm -f "$img"; truncate -s "$size" "$img"
  local lab=(); [ -n "$label" ] && lab=(-L "$label")
  local d=()
  if [ -n "$src" ]; then
    find "$src" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    d=(-d "$src")
  fi
  "mkfs.$type" -q -F -U "$uuid" -E "hash_seed=$SEED" "${lab[@]}" "$@" "${d[@]}" "$img"
  if [ -n "$src" ]; then
    "${HELP[@]}" debugfs-ctime "$src" "$SOURCE_DATE_EPOCH" >"$S/debugfs.cmds"
    debugfs -w -f "$S/debugfs.cmds" "$img" >/dev/null 2>&1
  fi
}

# put PART DISK START_SECTOR
put() { dd if="$1" of="$2" bs=1M oflag=seek_bytes seek=$(($3 * 512)) conv=notrunc,sparse status=none; }

# mbr IMG SIZE P1_END: MBR, p1 2048..P1_END (83), p2 P1_END+1..end (8e).
mbr() {
  truncate -s "$2" "$1"
  sfdisk -q "$1" >/dev/null <<EOF
label: dos
label-id: 0x6c766d00
unit: sectors

start=2048, size=$(($3 - 2047)), type=83
start=$(($3 + 1)), type=8e
EOF
}

# part_bytes IMG N: "start size" in bytes of partition N.
part_bytes() {
  sfdisk --json "$1" | "$PYTHON" -c "
import json,sys
p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]
print(p['start']*512, p['size']*512)"
}

# ------------------------------------------------------------ lvm-rhel6.img
r=$S/rhel6/root; b=$S/rhel6/boot
mkdir -p "$r"/{etc/sysconfig,bin,sbin,usr/bin,usr/lib/rpm,lib,var/lib/rpm,boot,dev,proc,sys,tmp,root,home} "$b/grub"
"${HELP[@]}" elf "$r/bin/ls" 300; chmod 0755 "$r/bin/ls"
echo 'Red Hat Enterprise Linux Server release 6.10 (Santiago)' >"$r/etc/redhat-release"
printf 'NETWORKING=yes\nHOSTNAME=rhel6.test\n' >"$r/etc/sysconfig/network"
printf '127.0.0.1   localhost localhost.localdomain\n' >"$r/etc/hosts"
cat >"$r/etc/fstab" <<EOF
/dev/mapper/vg_rhel6-lv_root /                       ext4    defaults        1 1
UUID=$R6_BOOT_UUID /boot                   ext4    defaults        1 2
/dev/mapper/vg_rhel6-lv_swap swap                    swap    defaults        0 0
tmpfs                   /dev/shm                tmpfs   defaults        0 0
proc                    /proc                   proc    defaults        0 0
EOF
xz -dc "$PHONY/fedora-db.sql.xz" | sqlite3 "$S/rhel6-rpmdb.sqlite"
"${HELP[@]}" rpm-bdb "$S/rhel6-rpmdb.sqlite" "$r/var/lib/rpm/Packages"
: >"$r/usr/lib/rpm/rpmrc"
printf '%%_dbpath /var/lib/rpm\n%%_db_backend bdb_ro\n' >"$r/usr/lib/rpm/macros"
echo 'default=0' >"$b/grub/grub.conf"
img=$S/out/lvm-rhel6.img
mbr "$img" 96M 34815
mkfs_tree ext4 "$S/boot.img" 16M "$b" "$R6_BOOT_UUID" "" -b 1024 -I 256
put "$S/boot.img" "$img" 2048
mkfs_tree ext4 "$S/root.img" 40M "$r" "$R6_ROOT_UUID" root -b 4096 -I 256
truncate -s 8M "$S/swap.img"; mkswap -q -U "$R6_SWAP_UUID" "$S/swap.img" >/dev/null
read -r off size < <(part_bytes "$img" 2)
cat >"$S/rhel6.json" <<EOF
{"vg": "vg_rhel6", "uuid": "R6vgAAAAAAAAAAAAAAAAAAAAAAAAAA01",
 "pvs": [{"file": "$img", "offset": $off, "size": $size, "uuid": "R6pvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda2"}],
 "lvs": [{"name": "lv_root", "uuid": "R6lvAAAAAAAAAAAAAAAAAAAAAAAAroot", "segments": [{"start": 0, "count": 10, "stripes": [[0, 0]]}]},
         {"name": "lv_swap", "uuid": "R6lvAAAAAAAAAAAAAAAAAAAAAAAAswap", "segments": [{"start": 0, "count": 2, "stripes": [[0, 10]]}]}]}
EOF
"${HELP[@]}" lvm-format "$S/rhel6.json"
"${HELP[@]}" lvm-put "$S/rhel6.json" lv_root "$S/root.img"
"${HELP[@]}" lvm-put "$S/rhel6.json" lv_swap "$S/swap.img"

# ------------------------------------------------------------ lvm-rhel9.img
# xfs.sh's helpers (protofile, mkfs_xfs, xfs_check) want `faked`: libfaketime
# freezes the clock mkfs.xfs stamps into inodes and the superblock.
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1 || true)
faked() {
  if [ -n "$FAKETIME_LIB" ]; then
    LD_PRELOAD=$FAKETIME_LIB FAKETIME="2024-01-02 03:04:05" FAKETIME_DONT_RESET=1 "$@"
  else
    "$@"
  fi
}
# shellcheck source=images/xfs.sh
. "$HERE/xfs.sh"
R9_DISK=9E9E9E9E-0000-4000-8000-000000000000
R9_ESP_ID=9E9E0001
R9_BOOT_UUID=9e9e9e9e-0000-4000-8000-000000000001
R9_ROOT_UUID=9e9e9e9e-0000-4000-8000-000000000002
R9_SWAP_UUID=9e9e9e9e-0000-4000-8000-000000000003
r=$S/rhel9/root; b=$S/rhel9/boot; e=$S/rhel9/esp
mkdir -p "$r"/{etc/sysconfig,usr/bin,usr/sbin,usr/lib/rpm,usr/lib64,var/lib/rpm,boot,dev,proc,sys,tmp,root,home,run} \
  "$b"/{efi,grub2,loader/entries} "$e"/EFI/{redhat,BOOT}
ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"
"${HELP[@]}" elf "$r/usr/bin/ls" 500; chmod 0755 "$r/usr/bin/ls"
cat >"$r/etc/os-release" <<'OSREL'
NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
OSREL
echo 'Red Hat Enterprise Linux release 9.3 (Plow)' >"$r/etc/redhat-release"
ln -s redhat-release "$r/etc/system-release"
echo rhel9.test >"$r/etc/hostname"
printf '127.0.0.1   localhost localhost.localdomain\n' >"$r/etc/hosts"
cat >"$r/etc/fstab" <<EOF
#
# /etc/fstab
# Created by anaconda
#
/dev/mapper/rhel-root   /                       xfs     defaults        0 0
UUID=$R9_BOOT_UUID /boot                   xfs     defaults        0 0
UUID=9E9E-0001          /boot/efi               vfat    umask=0077,shortname=winnt 0 2
/dev/mapper/rhel-swap   none                    swap    defaults        0 0
EOF
xz -dc "$PHONY/fedora-db.sql.xz" | sqlite3 "$r/var/lib/rpm/rpmdb.sqlite"
: >"$r/usr/lib/rpm/rpmrc"
printf '%%_dbpath /var/lib/rpm\n%%_db_backend sqlite\n' >"$r/usr/lib/rpm/macros"
mkdir -p "$r/usr/share/icons/hicolor/96x96/apps" "$r/usr/share/pixmaps"
"${HELP[@]}" png "$r/usr/share/pixmaps/system-logo-white.png" 96 96 9
ln -s ../../../../pixmaps/system-logo-white.png "$r/usr/share/icons/hicolor/96x96/apps/system-logo-icon.png"
printf 'set default=0\n' >"$b/grub2/grub.cfg"
printf 'title Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)\nlinux /vmlinuz-5.14.0-362.8.1.el9_3.x86_64\n' \
  >"$b/loader/entries/9e9e9e9e-5.14.0-362.8.1.el9_3.x86_64.conf"
printf 'not a kernel\n' >"$b/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"
"${HELP[@]}" pe "$e/EFI/BOOT/BOOTX64.EFI"
"${HELP[@]}" pe "$e/EFI/redhat/shimx64.efi"
"${HELP[@]}" pe "$e/EFI/redhat/grubx64.efi"
printf "search --no-floppy --fs-uuid --set=dev %s\nset prefix=(\$dev)/grub2\nconfigfile \$prefix/grub.cfg\n" \
  "$R9_BOOT_UUID" >"$e/EFI/redhat/grub.cfg"
for t in "$r" "$b" "$e"; do find "$t" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; done
img=$S/out/lvm-rhel9.img
truncate -s 192M "$img"
sgdisk -o -U "$R9_DISK" \
  -n 1:2048:34815 -t 1:EF00 -c 1:"EFI System Partition" -u 1:9E9E9E9E-0000-4000-8000-0000000000F1 \
  -n 2:34816:133119 -t 2:8300 -u 2:9E9E9E9E-0000-4000-8000-0000000000F2 \
  -n 3:133120:0 -t 3:8E00 -u 3:9E9E9E9E-0000-4000-8000-0000000000F3 "$img" >/dev/null
truncate -s 16M "$S/r9-esp.img"
mkfs.vfat --invariant -F 16 -i "$R9_ESP_ID" -h 2048 "$S/r9-esp.img" >/dev/null
for f in "$e"/*; do MTOOLS_SKIP_CHECK=1 mcopy -s -m -Q -i "$S/r9-esp.img" "$f" ::/; done
put "$S/r9-esp.img" "$img" 2048
xfs_proto "$b" >"$S/r9-boot.proto"
mkfs_xfs "$S/r9-boot.img" 48M "$S/r9-boot.proto" "$R9_BOOT_UUID" ""
xfs_check "$S/r9-boot.img"
put "$S/r9-boot.img" "$img" 34816
xfs_proto "$r" >"$S/r9-root.proto"
mkfs_xfs "$S/r9-root.img" 96M "$S/r9-root.proto" "$R9_ROOT_UUID" ""
xfs_check "$S/r9-root.img"
truncate -s 8M "$S/r9-swap.img"; mkswap -q -U "$R9_SWAP_UUID" "$S/r9-swap.img" >/dev/null
read -r off size < <(part_bytes "$img" 3)
cat >"$S/rhel9.json" <<EOF
{"vg": "rhel", "uuid": "R9vgAAAAAAAAAAAAAAAAAAAAAAAAAA01",
 "pvs": [{"file": "$img", "offset": $off, "size": $size, "uuid": "R9pvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda3"}],
 "lvs": [{"name": "root", "uuid": "R9lvAAAAAAAAAAAAAAAAAAAAAAAAroot", "segments": [{"start": 0, "count": 24, "stripes": [[0, 0]]}]},
         {"name": "swap", "uuid": "R9lvAAAAAAAAAAAAAAAAAAAAAAAAswap", "segments": [{"start": 0, "count": 2, "stripes": [[0, 24]]}]}]}
EOF
"${HELP[@]}" lvm-format "$S/rhel9.json"
"${HELP[@]}" lvm-put "$S/rhel9.json" root "$S/r9-root.img"
"${HELP[@]}" lvm-put "$S/rhel9.json" swap "$S/r9-swap.img"

# ------------------------------------------------- lvm-span-{a,b}.img
a=$S/out/lvm-span-a.img; bb=$S/out/lvm-span-b.img
truncate -s 34M "$a"
sgdisk -o -U 5A5A0000-0000-4000-8000-0000000000D1 -n 1:2048:0 -t 1:8E00 \
  -u 1:5A5A0000-0000-4000-8000-0000000000F1 "$a" >/dev/null
read -r off size < <(sfdisk --json "$a" | "$PYTHON" -c "
import json,sys
p=json.load(sys.stdin)['partitiontable']['partitions'][0]
print(p['start']*512, p['size']*512)")
truncate -s 17M "$bb"
cat >"$S/span.json" <<EOF
{"vg": "data-vg", "uuid": "SPvgAAAAAAAAAAAAAAAAAAAAAAAAAA01", "seqno": 5,
 "pvs": [{"file": "$a", "offset": $off, "size": $size, "uuid": "SPpvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda1"},
         {"file": "$bb", "size": $((17 * 1024 * 1024)), "uuid": "SPpvAAAAAAAAAAAAAAAAAAAAAAAAAA02", "device": "/dev/sdb"}],
 "lvs": [{"name": "big-lv", "uuid": "SPlvAAAAAAAAAAAAAAAAAAAAAAAAAbig", "segments": [
            {"start": 0, "count": 4, "stripes": [[0, 0]]},
            {"start": 4, "count": 2, "stripes": [[1, 0]]}]},
         {"name": "stripes", "uuid": "SPlvAAAAAAAAAAAAAAAAAAAAAstriped", "segments": [
            {"start": 0, "count": 4, "stripe_size": 128, "stripes": [[0, 4], [1, 2]]}]}]}
EOF
"${HELP[@]}" lvm-format "$S/span.json"
mkdir -p "$S/big" "$S/striped"
"${HELP[@]}" blob "$S/big/big-file" $((16 * 1024 * 1024)) span
echo 'on a striped LV' >"$S/striped/hello.txt"
"${HELP[@]}" blob "$S/striped/stripe-blob" $((6 * 1024 * 1024)) stripes
mkfs_tree ext4 "$S/big.img" 24M "$S/big" "$SPAN_BIG_UUID" big -b 4096 -I 256
mkfs_tree ext4 "$S/striped.img" 16M "$S/striped" "$SPAN_STRIPED_UUID" striped -b 1024 -I 256
"${HELP[@]}" lvm-put "$S/span.json" big-lv "$S/big.img"
"${HELP[@]}" lvm-put "$S/span.json" stripes "$S/striped.img"
sha256sum <"$S/big.img" | cut -d' ' -f1 >"$S/out/volumes/span-big-lv.sha256"
sha256sum <"$S/striped.img" | cut -d' ' -f1 >"$S/out/volumes/span-stripes.sha256"

# --------------------------------------------------- libguestfs-debian.img
r=$S/debian/root
mkdir -p "$r"/{etc,bin,boot,usr,var/lib/dpkg,var/lib/urandom,var/log,home}
cat >"$r/etc/fstab" <<'EOF'
LABEL=BOOT /boot ext2 default 0 0
/dev/debian/root / ext2 default 0 0
/dev/debian/usr /usr ext2 default 1 2
/dev/debian/var /var ext2 default 1 2
/dev/debian/home /home ext2 default 1 2
EOF
printf '5.0.1' >"$r/etc/debian_version"
printf 'debian.invalid' >"$r/etc/hostname"
"${HELP[@]}" elf "$r/bin/ls" 100
mkdir -p "$S/debian/var/lib/dpkg" "$S/debian/var/lib/urandom" "$S/debian/var/log" \
  "$S/debian/usr" "$S/debian/home" "$S/debian/boot/grub"
cp "$PHONY/debian-packages" "$S/debian/var/lib/dpkg/status"
: >"$S/debian/boot/grub/grub.conf"
img=$S/out/libguestfs-debian.img
mbr "$img" 96M 32767
mkfs_tree ext2 "$S/dboot.img" 15M "$S/debian/boot" "${LG}1" BOOT -b 4096
put "$S/dboot.img" "$img" 2048
read -r off size < <(part_bytes "$img" 2)
cat >"$S/debian.json" <<EOF
{"vg": "debian", "uuid": "DEvgAAAAAAAAAAAAAAAAAAAAAAAAAA01",
 "pvs": [{"file": "$img", "offset": $off, "size": $size, "uuid": "DEpvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda2"}],
 "lvs": [{"name": "root", "uuid": "DElvAAAAAAAAAAAAAAAAAAAAAAAAroot", "segments": [{"start": 0, "count": 4, "stripes": [[0, 0]]}]},
         {"name": "usr", "uuid": "DElvAAAAAAAAAAAAAAAAAAAAAAAAAusr", "segments": [{"start": 0, "count": 2, "stripes": [[0, 4]]}]},
         {"name": "var", "uuid": "DElvAAAAAAAAAAAAAAAAAAAAAAAAAvar", "segments": [{"start": 0, "count": 2, "stripes": [[0, 6]]}]},
         {"name": "home", "uuid": "DElvAAAAAAAAAAAAAAAAAAAAAAAAhome", "segments": [{"start": 0, "count": 2, "stripes": [[0, 8]]}]}]}
EOF
"${HELP[@]}" lvm-format "$S/debian.json"
n=2
for lv in root usr var home; do
  src=$r; [ "$lv" != root ] && src=$S/debian/$lv
  size=8M; [ "$lv" = root ] && size=16M
  mkfs_tree ext2 "$S/d-$lv.img" "$size" "$src" "${LG}$n" "" -b 4096
  "${HELP[@]}" lvm-put "$S/debian.json" "$lv" "$S/d-$lv.img"
  n=$((n + 1))
done

# ---------------------------------- libguestfs-ubuntu.img, -archlinux.img
# mbr83 IMG SIZE [P1_END]: MBR, p1 2048..P1_END (or the end), p2 the rest.
mbr83() {
  truncate -s "$2" "$1"
  { printf 'label: dos\nlabel-id: 0x6c766d01\nunit: sectors\n\n'
    if [ -n "${3:-}" ]; then printf 'start=2048, size=%s, type=83\nstart=%s, type=83\n' $(($3 - 2047)) $(($3 + 1))
    else printf 'start=2048, type=83\n'; fi
  } | sfdisk -q "$1" >/dev/null
}
r=$S/ubuntu/root
mkdir -p "$r"/{bin,etc,home,usr,var/lib/dpkg,var/lib/urandom} "$S/ubuntu/boot/grub"
printf '%s\n' 'LABEL=BOOT /boot ext2 default 0 0' '/dev/sda2 / ext2 default 1 2' \
  '/dev/mapper/cryptswap1 none swap sw 0 0' >"$r/etc/fstab"
printf '%s\n' DISTRIB_ID=Ubuntu DISTRIB_RELEASE=10.10 DISTRIB_CODENAME=maverick \
  'DISTRIB_DESCRIPTION="Ubuntu 10.10 (Phony Pharaoh)"' >"$r/etc/lsb-release"
printf '5.0.1' >"$r/etc/debian_version"
printf 'ubuntu.invalid' >"$r/etc/hostname"
cp "$PHONY/debian-packages" "$r/var/lib/dpkg/status"
"${HELP[@]}" elf "$r/bin/ls" 100
: >"$S/ubuntu/boot/grub/grub.conf"
img=$S/out/libguestfs-ubuntu.img
mbr83 "$img" 64M 32767
mkfs_tree ext2 "$S/uboot.img" 15M "$S/ubuntu/boot" "${LG}1" BOOT -b 4096
put "$S/uboot.img" "$img" 2048
mkfs_tree ext2 "$S/uroot.img" 47M "$r" "${LG}2" "" -b 4096
put "$S/uroot.img" "$img" 32768
r=$S/arch/root
mkdir -p "$r"/{boot/grub,bin,etc,home,usr,var/lib/pacman/local/test-package-1:0.1-1}
printf '/dev/sda1 / ext4 rw,relatime,data=ordered 0 1' >"$r/etc/fstab"
: >"$r/etc/arch-release"
printf 'archlinux.test' >"$r/etc/hostname"
cp "$PHONY/archlinux-package" "$r/var/lib/pacman/local/test-package-1:0.1-1/desc"
"${HELP[@]}" elf "$r/bin/ls" 100
: >"$r/boot/grub/grub.conf"
img=$S/out/libguestfs-archlinux.img
mbr83 "$img" 64M
mkfs_tree ext4 "$S/aroot.img" 62M "$r" "${LG}2" "" -b 4096
put "$S/aroot.img" "$img" 2048

# --------------------------------------------------- libguestfs-fedora.img
# fedora_root DIR: the phony Fedora root (make-fedora-img.pl's contents).
fedora_root() {
  local r=$1
  mkdir -p "$r"/{bin,etc/sysconfig,usr/share/zoneinfo/Europe,var/lib/rpm,usr/lib/rpm,var/log/journal,boot}
  : >"$r/usr/share/zoneinfo/Europe/London"
  printf 'root::15440:0:99999:7:::\n' >"$r/etc/shadow"; chmod 0 "$r/etc/shadow"
  printf 'LABEL=BOOT /boot ext2 default 0 0\nLABEL=ROOT / ext2 default 0 0\n' >"$r/etc/fstab"
  printf 'Welcome to Fedora release 14 (Phony)\n' >"$r/etc/motd"
  printf 'Fedora release 14 (Phony)' >"$r/etc/redhat-release"
  printf 'Fedora release 14 (Phony)' >"$r/etc/fedora-release"
  printf 'HOSTNAME=fedora.invalid' >"$r/etc/sysconfig/network"
  xz -dc "$PHONY/fedora-db.sql.xz" | sqlite3 "$r/var/lib/rpm/rpmdb.sqlite"
  : >"$r/usr/lib/rpm/rpmrc"
  printf '%%_dbpath /var/lib/rpm\n%%_db_backend sqlite\n' >"$r/usr/lib/rpm/macros"
  "${HELP[@]}" elf "$r/bin/ls" 100
  printf 'abcdefg' >"$r/etc/test1"; : >"$r/etc/test2"
  printf 'a\nb\nc\nd\ne\nf\n' >"$r/etc/test3"; chown 10:11 "$r/etc/test3"; chmod 0600 "$r/etc/test3"
  printf 'abcdefg' >"$r/bin/test1"; printf 'zxcvbnm' >"$r/bin/test2"
  printf '1234567' >"$r/bin/test3"; : >"$r/bin/test4"
  ln -s /bin/test1 "$r/bin/test5"
  # make-fedora-img.pl's FIFO and character device (mke2fs -d copies them).
  rm -f "$r/bin/test6" "$r/bin/test7"
  mkfifo -m 0777 "$r/bin/test6"; mknod -m 0777 "$r/bin/test7" c 10 10
}
fedora_boot() { mkdir -p "$1/grub"; : >"$1/grub/grub.conf"; }
r=$S/fedora/root; fedora_root "$r"; fedora_boot "$S/fedora/boot"
img=$S/out/libguestfs-fedora.img
mbr "$img" 96M 32767
mkfs_tree ext2 "$S/fboot.img" 15M "$S/fedora/boot" "${LG}1" BOOT -b 4096
put "$S/fboot.img" "$img" 2048
read -r off size < <(part_bytes "$img" 2)
cat >"$S/fedora.json" <<EOF
{"vg": "VG", "uuid": "FEvgAAAAAAAAAAAAAAAAAAAAAAAAAA01",
 "pvs": [{"file": "$img", "offset": $off, "size": $size, "uuid": "FEpvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda2"}],
 "lvs": [{"name": "Root", "uuid": "FElvAAAAAAAAAAAAAAAAAAAAAAAARoot", "segments": [{"start": 0, "count": 5, "stripes": [[0, 0]]}]},
         {"name": "LV1", "uuid": "FElvAAAAAAAAAAAAAAAAAAAAAAAAALV1", "segments": [{"start": 0, "count": 2, "stripes": [[0, 5]]}]},
         {"name": "LV2", "uuid": "FElvAAAAAAAAAAAAAAAAAAAAAAAAALV2", "segments": [{"start": 0, "count": 2, "stripes": [[0, 7]]}]},
         {"name": "LV3", "uuid": "FElvAAAAAAAAAAAAAAAAAAAAAAAAALV3", "segments": [{"start": 0, "count": 3, "stripes": [[0, 9]]}]}]}
EOF
"${HELP[@]}" lvm-format "$S/fedora.json"
mkfs_tree ext2 "$S/f-root.img" 20M "$r" "${LG}2" ROOT -b 4096
"${HELP[@]}" lvm-put "$S/fedora.json" Root "$S/f-root.img"
mkfs_tree ext2 "$S/f-lv1.img" 8M "" 0f0f0f0f-0000-4000-8000-000000000001 "" -b 4096
mkfs_tree ext2 "$S/f-lv2.img" 8M "" 0f0f0f0f-0000-4000-8000-000000000002 "" -b 1024
mkfs_tree ext2 "$S/f-lv3.img" 12M "" 0f0f0f0f-0000-4000-8000-000000000003 "" -b 2048
for n in 1 2 3; do "${HELP[@]}" lvm-put "$S/fedora.json" "LV$n" "$S/f-lv$n.img"; done

# ------------------------------------------------------------------ LUKS
# luks_wrap PLAIN SIZE OUT UUID KEYFILE [cryptsetup options]: OUT (SIZE
# bytes) becomes a LUKS2 container whose payload starts with PLAIN; PLAIN
# must be at most SIZE - 4 MiB. cryptsetup encrypts in place, offline.
luks_wrap() {
  local plain=$1 size=$2 out=$3 uuid=$4 keyf=$5; shift 5
  rm -f "$out"; cp --sparse=always "$plain" "$out"; truncate -s "$size" "$out"
  cryptsetup reencrypt --encrypt --batch-mode --type luks2 --key-file "$keyf" \
    --reduce-device-size 4M --uuid "$uuid" --luks2-metadata-size 16k \
    --luks2-keyslots-size 2032k "$@" "$out" >"$S/cryptsetup.log" 2>&1 ||
    { cat "$S/cryptsetup.log" >&2; return 1; }
  printf '%s %s\n' "$(sha256sum <"$plain" | cut -d' ' -f1)" "$(stat -c %s "$plain")" \
    >"$S/out/volumes/$(basename "$out").plain.sha256"
}
ARGON=(--pbkdf argon2id --pbkdf-memory 1024 --pbkdf-force-iterations 4 --pbkdf-parallel 1)
PBKDF2=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)

# ------------------------------------------------- lvm-on-luks{,1}.img
printf '%s' "$LL_KEY" >"$S/out/volumes/lvm-on-luks.key"
r=$S/crypt/root; b=$S/crypt/boot
mkdir -p "$r"/{etc/sysconfig,bin,usr/bin,var/lib/rpm,boot,dev,proc,sys,tmp} "$b/grub"
"${HELP[@]}" elf "$r/bin/ls" 400
echo 'Red Hat Enterprise Linux Server release 6.10 (Santiago)' >"$r/etc/redhat-release"
printf 'NETWORKING=yes\nHOSTNAME=crypt.test\n' >"$r/etc/sysconfig/network"
printf '%s\n' "/dev/mapper/vg_crypt-lv_root / ext4 defaults 1 1" \
  "UUID=$LL_BOOT_UUID /boot ext4 defaults 1 2" \
  "/dev/mapper/vg_crypt-lv_swap swap swap defaults 0 0" >"$r/etc/fstab"
echo 'the plaintext of an encrypted root' >"$r/secret.txt"
echo 'default=0' >"$b/grub/grub.conf"
mkfs_tree ext4 "$S/cboot.img" 8M "$b" "$LL_BOOT_UUID" "" -b 1024 -I 256
mkfs_tree ext4 "$S/croot.img" 16M "$r" "$LL_ROOT_UUID" croot -b 4096 -I 256
truncate -s 4M "$S/cswap.img"; mkswap -q -U "$LL_SWAP_UUID" "$S/cswap.img" >/dev/null
# The container's plaintext: a PV of 32 MiB (the container is 36 MiB+).
printf '%s\n' '{"vg": "vg_crypt", "uuid": "CRvgAAAAAAAAAAAAAAAAAAAAAAAAAA01",' \
  ' "pvs": [{"file": "'"$S/crypt-plain.img"'", "size": 33554432, "uuid": "CRpvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/mapper/luks-'"$LL_LUKS_UUID"'"}],' \
  ' "lvs": [{"name": "lv_root", "uuid": "CRlvAAAAAAAAAAAAAAAAAAAAAAAAroot", "segments": [{"start": 0, "count": 4, "stripes": [[0, 0]]}]},' \
  '         {"name": "lv_swap", "uuid": "CRlvAAAAAAAAAAAAAAAAAAAAAAAAswap", "segments": [{"start": 0, "count": 1, "stripes": [[0, 4]]}]}]}' \
  >"$S/crypt.json"
"${HELP[@]}" lvm-format "$S/crypt.json"
"${HELP[@]}" lvm-put "$S/crypt.json" lv_root "$S/croot.img"
"${HELP[@]}" lvm-put "$S/crypt.json" lv_swap "$S/cswap.img"
for v in lvm-on-luks lvm-on-luks1; do
  img=$S/out/$v.img
  mbr "$img" 80M 18431
  put "$S/cboot.img" "$img" 2048
  read -r off size < <(part_bytes "$img" 2)
  if [ "$v" = lvm-on-luks ]; then
    luks_wrap "$S/crypt-plain.img" "$size" "$S/$v.luks" "$LL_LUKS_UUID" \
      "$S/out/volumes/lvm-on-luks.key" "${ARGON[@]}" --sector-size 4096
  else
    luks_wrap "$S/crypt-plain.img" "$size" "$S/$v.luks" "$LL1_LUKS_UUID" \
      "$S/out/volumes/lvm-on-luks.key" "${PBKDF2[@]}" --hash sha1 \
      --cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 512
    cryptsetup convert --batch-mode --type luks1 "$S/$v.luks" >/dev/null 2>&1
  fi
  put "$S/$v.luks" "$img" $((off / 512))
done

# ------------------------------------------------------ luks-on-lvm.img
printf '%s' "$LO_KEY" >"$S/out/volumes/luks-on-lvm.key"
img=$S/out/luks-on-lvm.img
truncate -s 48M "$img"
printf '%s\n' '{"vg": "vg-enc", "uuid": "LOvgAAAAAAAAAAAAAAAAAAAAAAAAAA01",' \
  ' "pvs": [{"file": "'"$img"'", "size": 50331648, "uuid": "LOpvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda"}],' \
  ' "lvs": [{"name": "plain", "uuid": "LOlvAAAAAAAAAAAAAAAAAAAAAAAplain", "segments": [{"start": 0, "count": 2, "stripes": [[0, 0]]}]},' \
  '         {"name": "secret-lv", "uuid": "LOlvAAAAAAAAAAAAAAAAAAAAAAsecret", "segments": [{"start": 0, "count": 4, "stripes": [[0, 2]]}]}]}' \
  >"$S/lo.json"
"${HELP[@]}" lvm-format "$S/lo.json"
mkdir -p "$S/lo/plain" "$S/lo/secret"
echo 'not encrypted' >"$S/lo/plain/plain.txt"
echo 'inside LUKS inside LVM' >"$S/lo/secret/secret.txt"
mkfs_tree ext4 "$S/lo-plain.img" 8M "$S/lo/plain" c0c0c0c0-2222-4000-8000-000000000001 plain -b 1024 -I 256
mkfs_tree ext4 "$S/lo-secret.img" 12M "$S/lo/secret" c0c0c0c0-2222-4000-8000-000000000002 secret -b 1024 -I 256
luks_wrap "$S/lo-secret.img" $((16 * 1024 * 1024)) "$S/lo-secret.luks" "$LO_LUKS_UUID" \
  "$S/out/volumes/luks-on-lvm.key" "${PBKDF2[@]}" --hash sha256 --sector-size 512
"${HELP[@]}" lvm-put "$S/lo.json" plain "$S/lo-plain.img"
"${HELP[@]}" lvm-put "$S/lo.json" secret-lv "$S/lo-secret.luks"

# ---------------------------------------- libguestfs-fedora-lvm-on-luks.img
printf 'FEDORA' >"$S/out/volumes/fedora.key"
img=$S/out/libguestfs-fedora-lvm-on-luks.img
mbr "$img" 96M 32767
put "$S/fboot.img" "$img" 2048
read -r off size < <(part_bytes "$img" 2)
"$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
s["pvs"][0] = dict(s["pvs"][0], file=sys.argv[2], offset=0, size=int(sys.argv[3]),
                   device="/dev/mapper/luks-" + sys.argv[4])
json.dump(s, open(sys.argv[5], "w"))' "$S/fedora.json" "$S/fll-plain.img" $((size - 4 * 1024 * 1024)) "$FLL_UUID" "$S/fll.json"
"${HELP[@]}" lvm-format "$S/fll.json"
"${HELP[@]}" lvm-put "$S/fll.json" Root "$S/f-root.img"
for n in 1 2 3; do "${HELP[@]}" lvm-put "$S/fll.json" "LV$n" "$S/f-lv$n.img"; done
luks_wrap "$S/fll-plain.img" "$size" "$S/fll.luks" "$FLL_UUID" "$S/out/volumes/fedora.key" "${ARGON[@]}"
put "$S/fll.luks" "$img" $((off / 512))

# ---------------------------------------- libguestfs-fedora-luks-on-lvm.img
printf 'FEDORA-Root' >"$S/out/volumes/fedora-root.key"
printf 'FEDORA-LV1' >"$S/out/volumes/fedora-lv1.key"
printf 'FEDORA-LV2' >"$S/out/volumes/fedora-lv2.key"
printf 'FEDORA\0LV3' >"$S/out/volumes/fedora-lv3.key"
img=$S/out/libguestfs-fedora-luks-on-lvm.img
mbr "$img" 96M 32767
put "$S/fboot.img" "$img" 2048
read -r off size < <(part_bytes "$img" 2)
printf '%s\n' '{"vg": "Volume-Group", "uuid": "FOvgAAAAAAAAAAAAAAAAAAAAAAAAAA01",' \
  ' "pvs": [{"file": "'"$img"'", "offset": '"$off"', "size": '"$size"', "uuid": "FOpvAAAAAAAAAAAAAAAAAAAAAAAAAA01", "device": "/dev/sda2"}],' \
  ' "lvs": [{"name": "Root", "uuid": "FOlvAAAAAAAAAAAAAAAAAAAAAAAARoot", "segments": [{"start": 0, "count": 6, "stripes": [[0, 0]]}]},' \
  '         {"name": "Logical-Volume-1", "uuid": "FOlvAAAAAAAAAAAAAAAAAAAAAAAAALV1", "segments": [{"start": 0, "count": 2, "stripes": [[0, 6]]}]},' \
  '         {"name": "Logical-Volume-2", "uuid": "FOlvAAAAAAAAAAAAAAAAAAAAAAAAALV2", "segments": [{"start": 0, "count": 2, "stripes": [[0, 8]]}]},' \
  '         {"name": "Logical-Volume-3", "uuid": "FOlvAAAAAAAAAAAAAAAAAAAAAAAAALV3", "segments": [{"start": 0, "count": 2, "stripes": [[0, 10]]}]}]}' \
  >"$S/flo.json"
"${HELP[@]}" lvm-format "$S/flo.json"
mkfs_tree ext2 "$S/flo-lv1.img" 4M "" 0f0f0f0f-1111-4000-8000-000000000001 LV1 -b 4096
mkfs_tree ext2 "$S/flo-lv2.img" 4M "" 0f0f0f0f-1111-4000-8000-000000000002 LV2 -b 1024
mkfs_tree ext2 "$S/flo-lv3.img" 4M "" 0f0f0f0f-1111-4000-8000-000000000003 LV3 -b 2048
luks_wrap "$S/f-root.img" $((24 * 1024 * 1024)) "$S/flo-root.luks" "$FLO_UUID1" "$S/out/volumes/fedora-root.key" "${ARGON[@]}"
luks_wrap "$S/flo-lv1.img" $((8 * 1024 * 1024)) "$S/flo-lv1.luks" "$FLO_UUID2" "$S/out/volumes/fedora-lv1.key" "${PBKDF2[@]}"
luks_wrap "$S/flo-lv2.img" $((8 * 1024 * 1024)) "$S/flo-lv2.luks" "$FLO_UUID3" "$S/out/volumes/fedora-lv2.key" "${PBKDF2[@]}"
luks_wrap "$S/flo-lv3.img" $((8 * 1024 * 1024)) "$S/flo-lv3.luks" "$FLO_UUID4" "$S/out/volumes/fedora-lv3.key" "${PBKDF2[@]}"
"${HELP[@]}" lvm-put "$S/flo.json" Root "$S/flo-root.luks"
"${HELP[@]}" lvm-put "$S/flo.json" Logical-Volume-1 "$S/flo-lv1.luks"
"${HELP[@]}" lvm-put "$S/flo.json" Logical-Volume-2 "$S/flo-lv2.luks"
"${HELP[@]}" lvm-put "$S/flo.json" Logical-Volume-3 "$S/flo-lv3.luks"

# ---------------------------------------------------- lvm-rhel9-luks.img
R9L_LUKS_UUID=9e9e9e9e-1111-4000-8000-000000000004
R9L_KEY=rhel9-luks-key
printf '%s' "$R9L_KEY" >"$S/out/volumes/lvm-rhel9-luks.key"
img=$S/out/lvm-rhel9-luks.img
cp --sparse=always "$S/out/lvm-rhel9.img" "$img"
read -r off size < <(part_bytes "$img" 3)
# The plain PV's bytes must not show through where the container has zeros.
fallocate --punch-hole --offset "$off" --length "$size" "$img"
cat >"$S/rhel9-luks.json" <<EOF
{"vg": "rhel", "uuid": "R9vgAAAAAAAAAAAAAAAAAAAAAAAAAA02",
 "pvs": [{"file": "$S/r9l-plain.img", "offset": 0, "size": $((size - 4 * 1024 * 1024)), "uuid": "R9pvAAAAAAAAAAAAAAAAAAAAAAAAAA02", "device": "/dev/mapper/luks-$R9L_LUKS_UUID"}],
 "lvs": [{"name": "root", "uuid": "R9lvAAAAAAAAAAAAAAAAAAAAAAAAroot", "segments": [{"start": 0, "count": 24, "stripes": [[0, 0]]}]},
         {"name": "swap", "uuid": "R9lvAAAAAAAAAAAAAAAAAAAAAAAAswap", "segments": [{"start": 0, "count": 2, "stripes": [[0, 24]]}]}]}
EOF
"${HELP[@]}" lvm-format "$S/rhel9-luks.json"
"${HELP[@]}" lvm-put "$S/rhel9-luks.json" root "$S/r9-root.img"
"${HELP[@]}" lvm-put "$S/rhel9-luks.json" swap "$S/r9-swap.img"
luks_wrap "$S/r9l-plain.img" "$size" "$S/r9l.luks" "$R9L_LUKS_UUID" \
  "$S/out/volumes/lvm-rhel9-luks.key" "${ARGON[@]}" --sector-size 512
put "$S/r9l.luks" "$img" $((off / 512))

mkdir -p "$OUT/volumes"
mv "$S"/out/volumes/* "$OUT/volumes/"
mv "$S"/out/*.img "$OUT/"
echo "$KEY" >"$STAMP"
