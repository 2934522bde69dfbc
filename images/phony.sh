#!/usr/bin/env bash
# images/phony.sh [OUTDIR]: small phony guests, one per Linux family, for
# inspection tests (default OUTDIR: images/out). Each is a tree of release
# files, hostname, fstab, a package database and an x86-64 ELF /bin/ls --
# enough for libguestfs's (and our) inspection rules, nothing that boots.
# Built with host tools only (sgdisk, mkfs.ext4 -d, debugfs); deterministic
# (fixed UUIDs, GUIDs, hash seeds, times); cached by a stamp keyed on this
# script, images/helpers.py and the phony data; locked with flock.
#
# phony-ubuntu.img   GPT (disk GUID $UB_DISK): p1 ext4 label BOOT (/boot,
#                    named in fstab by LABEL=), p2 ext4 root (fstab says
#                    /dev/vda2). (Not PARTUUID=: libguestfs's appliance
#                    cannot resolve it -- findfs finds no such tag there --
#                    so virt-inspector drops the entry, and gx-inspector,
#                    which resolves it, would differ.) /etc/lsb-release "Ubuntu 10.10 (Phony
#                    Pharaoh)", no os-release; fstab also names
#                    /dev/mapper/cryptswap1 (unresolvable: reported as is),
#                    tmpfs and /dev/cdrom (ignored). dpkg status: libguestfs's
#                    phony debian-packages (test1..test3).
# phony-fedora.img   whole-disk ext4 label ROOT (fstab LABEL=ROOT):
#                    /etc/redhat-release "Fedora release 14 (Phony)",
#                    /etc/sysconfig/network HOSTNAME=fedora.invalid.
#                    /var/lib/rpm/rpmdb.sqlite: libguestfs's phony Fedora rpm
#                    database (17 packages), made by sqlite3 from
#                    images/phony-data/fedora-db.sql.xz; /usr/lib/rpm/macros
#                    and rpmrc as libguestfs's make-fedora-img.pl writes them
#                    (librpm in the peer's appliance needs the dbpath).
# phony-centos.img   whole-disk ext4 (fstab UUID=): centos-release and
#                    redhat-release "CentOS Linux release 7.9.2009 (Core)",
#                    /etc/hostname; /var/lib/rpm/Packages: the phony Fedora
#                    headers in a Berkeley DB hash file (db_load, as rpm
#                    4.11 keeps them), macros naming rpm's bdb_ro backend.
# phony-rocky.img    whole-disk ext4 (fstab UUID="..." quoted): os-release
#                    ID=rocky VERSION_ID=9.3. (Not /dev/disk/by-uuid/: the
#                    peer here, libguestfs 1.48, keeps such names unresolved;
#                    newer libguestfs and gx-inspector resolve them.)
# phony-opensuse.img whole-disk ext4 (fstab /dev/sda): /etc/SuSE-release
#                    "openSUSE 11.4 (x86_64)" / "VERSION = 11.4", /etc/HOSTNAME.
# phony-archlinux.img whole-disk ext4 (fstab UUID=): empty /etc/arch-release,
#                    pacman local db with libguestfs's test-package (1:0.1-1).
# phony-alpine.img   whole-disk ext4 (fstab UUID=): /etc/alpine-release
#                    3.19.1, /lib/apk/db/installed with two packages.
# phony-gentoo.img   whole-disk ext4 (fstab /dev/root):
#                    /etc/gentoo-release "Gentoo Base System release 2.14".
# phony-debian.img   whole-disk ext4 (fstab UUID=): os-release Debian 12,
#                    dpkg status: libguestfs's phony debian-packages.
# libguestfs-coreos.img  libguestfs's phony CoreOS (guestfs-tools
#                    test-data/phony-guests/make-coreos-img.sh), same layout:
#                    512 MiB sparse GPT (disk GUID $CO_DISK, partition GUIDs
#                    C0E05C0E-...-00000000000N, type 8300 as parted's mkpart
#                    leaves them): sda1 4096-266239 "EFI_SYSTEM" (legacy BIOS
#                    bootable) FAT16 without a label; sda2 266240-270335
#                    "BIOS-BOOT" (zeros); sda3 270336-532479 "USR-A" ext4 label
#                    USR-A UUID ...901 (/bin, /lib64/os-release "CoreOS
#                    899.13.0", /lib -> lib64, /local, /share/coreos); sda4
#                    532480-794623 "USR-B" (zeros); sda5 794624-1044480 "ROOT"
#                    ext4 label ROOT UUID ...902 (/etc/coreos/update.conf,
#                    /etc/hostname "coreos.invalid" without a newline,
#                    /etc/os-release -> ../usr/lib/os-release, /bin ->
#                    usr/bin, /lib64 -> usr/lib64, /lib -> lib64, empty /usr,
#                    /root, /home). No fstab: inspection recognises the
#                    layout. Expected: guestfs-tools'
#                    inspector/expected-coreos.img.xml.
# Icons (PNG files from helpers.py png, where libguestfs's inspect-get-icon
# looks for each distribution): ubuntu 24x24 (gnome ubuntu-logo.png),
# fedora 96x96, centos 64x64 behind a symlink (as RHEL 7), opensuse 24x24
# (the second place looked at), gentoo 48x48, debian 32x32; rocky's is
# 1100x16, which is not an icon; alpine has only /etc/favicon.png, which
# virt-inspector does not ask for.
set -euo pipefail
export LC_ALL=C TZ=UTC
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Package databases from libguestfs's phony-guest test data, kept in the repo
# so a clone builds on its own.
PHONY=${GX_PHONY_DATA:-$HERE/phony-data}

KEY=$(cat "$HERE/phony.sh" "$HERE/helpers.py" "$PHONY/debian-packages" "$PHONY/archlinux-package" \
  "$PHONY/fedora-db.sql.xz" | sha256sum | cut -d' ' -f1)
STAMP=$OUT/.phony-stamp
stamp_ok() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ]; }
stamp_ok && exit 0
exec 8>"$OUT/.phony-lock"
flock 8
stamp_ok && exit 0

export SOURCE_DATE_EPOCH=1704164645
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
HELP=(python3 "$HERE/helpers.py")
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT

UB_DISK=0B0B0B0B-1111-4222-8333-000000000000
UB_P1=0B0B0B0B-1111-4222-8333-000000000001
UB_P2=0B0B0B0B-1111-4222-8333-000000000002
UB_BOOT_UUID=0b0b0b0b-0000-4000-8000-000000000001
UB_ROOT_UUID=0b0b0b0b-0000-4000-8000-000000000002
SEED=5eed5eed-0000-4000-8000-000000000000

# mkext IMG SIZE SRC UUID LABEL: ext4 filled from SRC, reproducible.
mkext() {
  local img=$1 size=$2 src=$3 uuid=$4 label=$5
  find "$src" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  rm -f "$img"; truncate -s "$size" "$img"
  local lab=(); [ -n "$label" ] && lab=(-L "$label")
  mkfs.ext4 -q -F -b 1024 -I 256 -U "$uuid" -E "hash_seed=$SEED" "${lab[@]}" -d "$src" "$img"
  "${HELP[@]}" debugfs-ctime "$src" "$SOURCE_DATE_EPOCH" >"$S/debugfs.cmds"
  debugfs -w -f "$S/debugfs.cmds" "$img" >/dev/null 2>&1
}

# base ROOT HOSTNAME_FILE HOSTNAME: the directories every Linux root has.
base() {
  local r=$1
  mkdir -p "$r"/{etc,usr/bin,usr/sbin,usr/lib,boot,dev,proc,sys,tmp,var/lib,root,home}
  ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"
  "${HELP[@]}" elf "$r/usr/bin/ls" 200; chmod 0755 "$r/usr/bin/ls"
  printf '127.0.0.1\tlocalhost\n' >"$r/etc/hosts"
  [ -n "${2:-}" ] && printf '%s\n' "$3" >"$r/etc/$2"
  return 0
}

# whole NAME UUID LABEL: a whole-disk ext4 guest from $S/NAME.
whole() {
  mkext "$S/$1.img" 8M "$S/$1" "$2" "$3"
  mv "$S/$1.img" "$S/out/phony-$1.img"
}

mkdir -p "$S/out"

# ---- ubuntu (partitioned, lsb-release)
r=$S/ubuntu/root; b=$S/ubuntu/boot
base "$r" hostname ubuntu.invalid
mkdir -p "$b/grub" "$r/var/lib/dpkg"
echo 'set default=0' >"$b/grub/grub.cfg"
cat >"$r/etc/lsb-release" <<'EOF'
DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=10.10
DISTRIB_CODENAME=phony
DISTRIB_DESCRIPTION="Ubuntu 10.10 (Phony Pharaoh)"
EOF
echo 'squeeze/sid' >"$r/etc/debian_version"
cat >"$r/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
/dev/vda2 / ext4 defaults 0 1
LABEL=BOOT /boot ext4 defaults 0 2
/dev/mapper/cryptswap1 none swap sw 0 0
tmpfs /tmp tmpfs defaults 0 0
/dev/cdrom /media/cdrom udf,iso9660 user,noauto 0 0
proc /proc proc defaults 0 0
EOF
cp "$PHONY/debian-packages" "$r/var/lib/dpkg/status"
mkdir -p "$r/usr/share/icons/gnome/24x24/places"
"${HELP[@]}" png "$r/usr/share/icons/gnome/24x24/places/ubuntu-logo.png" 24 24 1
mkext "$S/ub-boot.img" 4M "$b" "$UB_BOOT_UUID" BOOT
mkext "$S/ub-root.img" 8M "$r" "$UB_ROOT_UUID" ""
img=$S/out/phony-ubuntu.img
truncate -s 14M "$img"
sgdisk -o -U "$UB_DISK" -n 1:2048:10239 -t 1:8300 -u 1:"$UB_P1" \
  -n 2:10240:26623 -t 2:8300 -u 2:"$UB_P2" "$img" >/dev/null
dd if="$S/ub-boot.img" of="$img" bs=512 seek=2048 conv=notrunc status=none
dd if="$S/ub-root.img" of="$img" bs=512 seek=10240 conv=notrunc status=none

# ---- fedora (redhat-release, sysconfig/network)
U=f0f0f0f0-0000-4000-8000-00000000000
r=$S/fedora; base "$r"
echo 'Fedora release 14 (Phony)' >"$r/etc/redhat-release"
cp "$r/etc/redhat-release" "$r/etc/fedora-release"
mkdir -p "$r/etc/sysconfig"
printf 'NETWORKING=yes\nHOSTNAME=fedora.invalid\n' >"$r/etc/sysconfig/network"
printf 'LABEL=ROOT / ext4 defaults 1 1\n' >"$r/etc/fstab"
# The rpm database from its SQL dump (kept in the repo, not in shared/).
# sqlite3 writes the same bytes for the same dump and sqlite version; the
# dump is one transaction, so no -journal/-wal file is left beside it.
mkdir -p "$r/var/lib/rpm" "$r/usr/lib/rpm"
xz -dc "$PHONY/fedora-db.sql.xz" | sqlite3 "$r/var/lib/rpm/rpmdb.sqlite"
: >"$r/usr/lib/rpm/rpmrc"
printf '%%_dbpath /var/lib/rpm\n%%_db_backend sqlite\n' >"$r/usr/lib/rpm/macros"
mkdir -p "$r/usr/share/icons/hicolor/96x96/apps"
"${HELP[@]}" png "$r/usr/share/icons/hicolor/96x96/apps/fedora-logo-icon.png" 96 96 2
whole fedora "${U}1" ROOT

# ---- centos
U=c0c0c0c0-0000-4000-8000-00000000000
r=$S/centos; base "$r" hostname centos7.test
echo 'CentOS Linux release 7.9.2009 (Core)' >"$r/etc/centos-release"
cp "$r/etc/centos-release" "$r/etc/redhat-release"
printf 'UUID=%s / ext4 defaults 1 1\n' "${U}1" >"$r/etc/fstab"
# rpm 4.11's Berkeley DB Packages, with the phony Fedora headers; macros
# tell the peer's librpm (4.18, in libguestfs's appliance) to read it.
mkdir -p "$r/var/lib/rpm" "$r/usr/lib/rpm"
xz -dc "$PHONY/fedora-db.sql.xz" | sqlite3 "$S/centos-rpmdb.sqlite"
"${HELP[@]}" rpm-bdb "$S/centos-rpmdb.sqlite" "$r/var/lib/rpm/Packages"
: >"$r/usr/lib/rpm/rpmrc"
printf '%%_dbpath /var/lib/rpm\n%%_db_backend bdb_ro\n' >"$r/usr/lib/rpm/macros"
# RHEL 7 style: the icon a symlink to the pixmap.
mkdir -p "$r/usr/share/icons/hicolor/96x96/apps" "$r/usr/share/pixmaps"
"${HELP[@]}" png "$r/usr/share/pixmaps/system-logo-white.png" 64 64 3
ln -s ../../../../pixmaps/system-logo-white.png "$r/usr/share/icons/hicolor/96x96/apps/system-logo-icon.png"
whole centos "${U}1" ""

# ---- rocky (os-release)
U=40c40c40-0000-4000-8000-00000000000
r=$S/rocky; base "$r" hostname rocky9.test
cat >"$r/etc/os-release" <<'EOF'
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
EOF
echo 'Rocky Linux release 9.3 (Blue Onyx)' >"$r/etc/redhat-release"
printf 'UUID="%s" / ext4 defaults 1 1\n' "${U}1" >"$r/etc/fstab"
# Wider than 1024 pixels: not an icon.
mkdir -p "$r/usr/share/icons/hicolor/96x96/apps"
"${HELP[@]}" png "$r/usr/share/icons/hicolor/96x96/apps/system-logo-icon.png" 1100 16 4
whole rocky "${U}1" rockyroot

# ---- opensuse (SuSE-release, /etc/HOSTNAME)
U=5c5c5c5c-0000-4000-8000-00000000000
r=$S/opensuse; base "$r" HOSTNAME opensuse.invalid
printf 'openSUSE 11.4 (x86_64)\nVERSION = 11.4\nCODENAME = Celadon\n' >"$r/etc/SuSE-release"
printf '/dev/sda / ext4 acl,user_xattr 1 1\n' >"$r/etc/fstab"
# Only the second of the two places libguestfs looks.
mkdir -p "$r/usr/share/icons/hicolor/24x24/apps"
"${HELP[@]}" png "$r/usr/share/icons/hicolor/24x24/apps/distributor.png" 24 24 5
whole opensuse "${U}1" ""

# ---- archlinux (pacman)
U=a4c4a4c4-0000-4000-8000-00000000000
r=$S/archlinux; base "$r" hostname archlinux.test
: >"$r/etc/arch-release"
mkdir -p "$r/var/lib/pacman/local/test-package-1:0.1-1" "$r/var/lib/pacman/local/broken-1.0-1"
cp "$PHONY/archlinux-package" "$r/var/lib/pacman/local/test-package-1:0.1-1/desc"
printf '%%NAME%%\nbroken\n\n%%VERSION%%\n1.0\n' >"$r/var/lib/pacman/local/broken-1.0-1/desc"
echo 1 >"$r/var/lib/pacman/local/ALPM_DB_VERSION"
printf 'UUID=%s / ext4 rw,relatime 0 1\n' "${U}1" >"$r/etc/fstab"
whole archlinux "${U}1" ""

# ---- alpine (apk)
U=a1a1a1a1-0000-4000-8000-00000000000
r=$S/alpine; base "$r" hostname alpine.test
echo 3.19.1 >"$r/etc/alpine-release"
mkdir -p "$r/lib/apk/db"
rm "$r/lib"; mkdir -p "$r/lib/apk/db"
cat >"$r/lib/apk/db/installed" <<'EOF'
C:Q1Dyhp6ZIcQmmPAndqQp3ez2Kw1nY=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407129
I:647168
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>

C:Q1+5XLNRwv+wBvKX2AKw5ZQNdMPwE=
P:busybox
V:1:1.36.1-r15
A:x86_64
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/

EOF
printf 'UUID=%s / ext4 rw,relatime 0 1\n' "${U}1" >"$r/etc/fstab"
# A favicon, which virt-inspector does not ask for.
"${HELP[@]}" png "$r/etc/favicon.png" 16 16 6
whole alpine "${U}1" ""

# ---- gentoo
U=6e606e60-0000-4000-8000-00000000000
r=$S/gentoo; base "$r" hostname gentoo.test
echo 'Gentoo Base System release 2.14' >"$r/etc/gentoo-release"
printf '/dev/root / ext4 noatime 0 1\n' >"$r/etc/fstab"
mkdir -p "$r/usr/share/icons/gentoo/48x48"
"${HELP[@]}" png "$r/usr/share/icons/gentoo/48x48/gentoo.png" 48 48 7
whole gentoo "${U}1" ""

# ---- debian (os-release, dpkg)
U=deb1deb1-0000-4000-8000-00000000000
r=$S/debian; base "$r" hostname debian.test
cat >"$r/etc/os-release" <<'OSREL'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
OSREL
echo 12.5 >"$r/etc/debian_version"
mkdir -p "$r/var/lib/dpkg" "$r/usr/share/pixmaps"
cp "$PHONY/debian-packages" "$r/var/lib/dpkg/status"
"${HELP[@]}" png "$r/usr/share/pixmaps/debian-logo.png" 32 32 8
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "${U}1" >"$r/etc/fstab"
whole debian "${U}1" ""

# ---- libguestfs's phony CoreOS (a root, a /usr, no fstab)
CO_DISK=C0E05C0E-0000-4000-8000-000000000000
CO_UUID=01234567-0123-0123-0123-01234567890
co=$S/coreos; r=$co/root; u=$co/usr
mkdir -p "$r"/{etc/coreos,usr,root,home} "$u"/{bin,lib64,local,share/coreos}
printf 'GROUP=stable' >"$r/etc/coreos/update.conf"
printf 'coreos.invalid' >"$r/etc/hostname"
ln -s ../usr/lib/os-release "$r/etc/os-release"
ln -s usr/bin "$r/bin"; ln -s usr/lib64 "$r/lib64"; ln -s lib64 "$r/lib"
cat >"$u/lib64/os-release" <<'OSREL'
NAME=CoreOS
ID=coreos
VERSION=899.13.0
VERSION_ID=899.13.0
BUILD_ID=2016-03-23-0120
PRETTY_NAME="CoreOS 899.13.0"
ANSI_COLOR="1;32"
HOME_URL="https://coreos.com/"
BUG_REPORT_URL="https://github.com/coreos/bugs/issues"
OSREL
ln -s lib64 "$u/lib"
img=$S/out/libguestfs-coreos.img
truncate -s 512M "$img"
gpt=(-o -U "$CO_DISK")
n=1
for p in 4096:266239:EFI_SYSTEM 266240:270335:BIOS-BOOT 270336:532479:USR-A \
  532480:794623:USR-B 794624:1044480:ROOT; do
  IFS=: read -r first last name <<<"$p"
  gpt+=(-n "$n:$first:$last" -t "$n:8300" -u "$n:C0E05C0E-0000-4000-8000-00000000000$n" -c "$n:$name")
  n=$((n + 1))
done
sgdisk "${gpt[@]}" -A 1:set:2 "$img" >/dev/null
truncate -s $((262144 * 512)) "$S/co-esp.img"
mkfs.vfat --invariant -F 16 -i C0E05C01 -h 4096 "$S/co-esp.img" >/dev/null
mkext "$S/co-usr.img" $((262144 * 512)) "$u" "${CO_UUID}1" USR-A
mkext "$S/co-root.img" $((249857 * 512)) "$r" "${CO_UUID}2" ROOT
for p in 4096:esp 270336:usr 794624:root; do
  dd if="$S/co-${p#*:}.img" of="$img" bs=1M oflag=seek_bytes seek=$((${p%%:*} * 512)) \
    conv=notrunc,sparse status=none
done

mv "$S"/out/phony-*.img "$S"/out/libguestfs-coreos.img "$OUT/"
echo "$KEY" >"$STAMP"
