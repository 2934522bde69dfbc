#!/bin/bash
# Build small seed disks for fuzz_inspect into corpus/fuzz_inspect/ (each
# well under libFuzzer's 1 MiB default -max_len):
#   seed-debian-whole  512 KiB ext2, 1 KiB blocks, a Debian-like root on the whole device
#   seed-debian-mbr    1000 KiB MBR disk: ext2 root (p1) + ext2 /boot (p2), fstab by UUID= and LABEL=
#   seed-alpine-ext4   384 KiB ext4 (no journal), an Alpine-like root with an apk database
# Needs mke2fs, sfdisk, python3.
set -euo pipefail
cd "$(dirname "$0")"
out=corpus/fuzz_inspect
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
helpers=../../../images/helpers.py

boot_uuid=4f1a2b3c-0d0e-4f10-8a11-123456789abc
root_uuid=0b6f1e2d-3c4b-4a59-8687-fedcba987654

debian_tree() { # DIR FSTAB-CONTENT
  local d=$1
  mkdir -p "$d"/{etc,bin,usr/bin,var/lib/dpkg,boot,home/user,tmp}
  cat > "$d/etc/os-release" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
OS
  echo 12.5 > "$d/etc/debian_version"
  echo fuzzhost > "$d/etc/hostname"
  printf '127.0.0.1 localhost\n' > "$d/etc/hosts"
  printf '%s' "$2" > "$d/etc/fstab"
  cat > "$d/var/lib/dpkg/status" <<'DPKG'
Package: coreutils
Status: install ok installed
Priority: required
Architecture: amd64
Version: 9.1-1
Description: GNU core utilities
 This package contains the basic file, shell and text manipulation
 utilities which are expected to exist on every operating system.

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 1:2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs.

DPKG
  python3 "$helpers" elf "$d/bin/ls" 16
  ln -s ../../bin/ls "$d/usr/bin/ls"
}

# 1. The whole device is the root filesystem.
debian_tree "$work/whole" "# /etc/fstab
UUID=$root_uuid / ext2 errors=remount-ro 0 1
proc /proc proc defaults 0 0
/dev/sdb1 none swap sw 0 0
"
rm -f "$out/seed-debian-whole"
truncate -s 512K "$out/seed-debian-whole"
mke2fs -q -F -t ext2 -b 1024 -N 64 -I 256 -O ^resize_inode -E root_owner=0:0 \
  -U "$root_uuid" -d "$work/whole" "$out/seed-debian-whole"

# 2. MBR: p1 root, p2 /boot (found by UUID=), LABEL= and /dev/sda1 forms too.
debian_tree "$work/root" "UUID=$root_uuid / ext2 defaults 0 1
UUID=$boot_uuid /boot ext2 defaults 0 2
LABEL=nothere /srv ext2 defaults 0 2
/dev/sda1 /mnt/again ext2 ro 0 0
"
mkdir -p "$work/boot/grub"
printf 'set timeout=0\n' > "$work/boot/grub/grub.cfg"
printf 'fake kernel\n' > "$work/boot/vmlinuz-6.1.0-18-amd64"
p1_start=8; p1_size=1400; p2_start=1408; p2_size=576   # sectors; 1984 in all
img=$work/mbr.img
truncate -s $(( (p2_start + p2_size + 16) * 512 )) "$img"
printf 'label: dos\nlabel-id: 0x1234abcd\nstart=%d, size=%d, type=83\nstart=%d, size=%d, type=83\n' \
  $p1_start $p1_size $p2_start $p2_size | sfdisk -q --no-reread "$img" >/dev/null 2>&1
truncate -s $(( p1_size * 512 )) "$work/p1"
truncate -s $(( p2_size * 512 )) "$work/p2"
mke2fs -q -F -t ext2 -b 1024 -N 64 -I 256 -O ^resize_inode -E root_owner=0:0 \
  -U "$root_uuid" -d "$work/root" "$work/p1"
mke2fs -q -F -t ext2 -b 1024 -N 16 -I 256 -O ^resize_inode -E root_owner=0:0 -L boot \
  -U "$boot_uuid" -d "$work/boot" "$work/p2"
dd if="$work/p1" of="$img" bs=512 seek=$p1_start conv=notrunc status=none
dd if="$work/p2" of="$img" bs=512 seek=$p2_start conv=notrunc status=none
cp "$img" "$out/seed-debian-mbr"

# 3. Alpine-like root on ext4 without a journal, apk database, /bin/ls a symlink.
a=$work/alpine
mkdir -p "$a"/{etc,bin,lib/apk/db,usr/bin}
cat > "$a/etc/os-release" <<'OS'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
OS
echo 3.19.1 > "$a/etc/alpine-release"
echo alpinefuzz > "$a/etc/hostname"
printf '/dev/sda / ext4 rw,relatime 0 1\ntmpfs /tmp tmpfs nosuid,nodev 0 0\n' > "$a/etc/fstab"
cat > "$a/lib/apk/db/installed" <<'APK'
C:Q1abcdefghijklmnopqrstuvwxyz0123=
P:busybox
V:1.36.1-r15
A:x86_64
S:512345
I:1024000
T:Size optimized toolkit of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
t:1700000000

P:musl
V:1.2.4_git20230717-r4
A:x86_64
T:the musl c library (libc) implementation
U:https://musl.libc.org/
o:musl

APK
python3 "$helpers" elf "$a/bin/busybox" 40
ln -s busybox "$a/bin/ls"
ln -s /bin/busybox "$a/bin/sh"
rm -f "$out/seed-alpine-ext4"
truncate -s 384K "$out/seed-alpine-ext4"
mke2fs -q -F -t ext4 -b 1024 -N 32 -I 256 -O ^has_journal,^resize_inode -E root_owner=0:0 \
  -U clear -d "$a" "$out/seed-alpine-ext4"
ls -l "$out"
