#!/usr/bin/env bash
# images/build.sh [OUTDIR]: builds every test guest image (default OUTDIR:
# images/out next to this script) with stock host tools only -- never with
# guestx's own code, so the images are an independent oracle.
#
# * Deterministic: fixed UUIDs, labels, volume ids, GPT/MBR ids, hash seeds
#   and timestamps (SOURCE_DATE_EPOCH, E2FSPROGS_FAKE_TIME, libfaketime for
#   ntfs-3g/genisoimage/xfs/btrfs/exfat, debugfs for ext* ctimes). Two builds
#   give byte-identical files except where a tool draws random bytes we
#   cannot fix: probe/btrfs.img (device and chunk-tree UUIDs), probe/luks*.img
#   (key material and salts). Labels and filesystem UUIDs are fixed even there.
#   Nothing is copied from the host (e.g. /bin/ls is generated, not the
#   host's), so other machines with the same tool versions build the same.
# * Cached: OUTDIR/.stamp holds a hash of this script, helpers.py and data/;
#   when it matches, the script exits at once.
# * Locked: flock on OUTDIR/.lock, so concurrent test processes are safe.
# * Atomic enough: everything is built in OUTDIR/.build.*, then moved into
#   place; the stamp is written last, so a half-built set is never current.
#
# Needs root (ntfs-3g through FUSE, losetup for the LVM PV, mknod, chown).
# When FUSE or loop devices are missing the images that need them are skipped
# with a loud warning and listed in OUTDIR/SKIPPED; everything else is built.
#
# Contents, by file (device names as libguestfs gives them):
#
# linux.img (64 MiB raw, GPT, disk GUID $LINUX_DISK_GUID)
#   /dev/sda1  sectors 2048..34815 (16 MiB), type EF00, name "EFI System
#              Partition", GUID $LINUX_P1_GUID. vfat FAT16, label "EFI",
#              volume id 4EF1-A0C3. Files: EFI/debian/{grubx64.efi,
#              shimx64.efi,grub.cfg}, EFI/BOOT/BOOTX64.EFI, "A long file
#              name.txt", lowercase.txt, UPPER.TXT, "MixedCase File.Txt".
#   /dev/sda2  sectors 34816..116735 (40 MiB), type 8300, name "root", GUID
#              $LINUX_P2_GUID. ext4 (4 KiB blocks, 256-byte inodes), label
#              "root", UUID $LINUX_ROOT_UUID. A Debian 12 tree, see
#              make_linux_root below (usr-merged: /bin -> usr/bin; /bin/ls is a
#              tiny real x86-64 ELF that exits 0 (helpers.py elf); /etc/test3 uid 10 gid 11 holds
#              "a\nb\nc\nd\ne\nf\n"; /etc/testdir has every file type, modes
#              and symlink kind; /usr/share/doc-many has 300 files;
#              /usr/share/deep is 12 levels deep; /usr/share/blob/random-4M.bin
#              is 4 MiB of sha256-counter data (helpers.py blob, seed "guestx");
#              /var/tmp/sparse.bin is 8 MiB, mostly holes).
#   All times are 2024-01-02 03:04:05 UTC (epoch 1704164645) except
#   /etc/testdir/old-file (2001-02-03 04:05:06 UTC).
# linux.qcow2: qemu-img convert of linux.img (qcow2 v3, 64 KiB clusters).
# bigtree.img (whole-device ext4, 1 KiB blocks, label "bigtree", UUID
#   $BIGTREE_UUID): /d000../d099, each with f000..f098 (file fNNN holds NNN
#   bytes of 'x'): 10,000 entries below / (+ lost+found), for ls -lR timings.
#   Separate from linux.img so the common images stay small and quick.
# windows.img (32 MiB raw, MBR disk id 0x$WIN_DISK_ID)
#   /dev/sda1  sectors 2048..65535, type 07, bootable. NTFS label "Windows",
#              serial $WIN_NTFS_SERIAL. Windows/System32/config/{SOFTWARE,
#              SYSTEM,DEFAULT,SAM,SECURITY} (all grown from data/minimal-hive
#              by hivexregedit --merge; contents in helpers.py reg-software /
#              reg-system), Windows/System32/cmd.exe (PE32+ x86-64),
#              Windows/System32/drivers/etc/hosts, Program Files/{Guestx,
#              7-Zip,Common Files}, "Program Files (x86)/OldApp", ProgramData,
#              Users/{Default,Public,test} (NTUSER.DAT in Default and test),
#              "System Volume Information", autoexec.bat, config.sys.
#   MountedDevices maps \DosDevices\C: to (disk id, byte offset 1048576).
# libguestfs-windows.img: libguestfs's phony Windows (make-windows-img.sh):
#   512 MiB sparse, MBR disk signature "1234"; sda1 (sectors 64..524287)
#   an empty NTFS; sda2 (524288..end-64) NTFS with
#   Windows/System32/Config/{SOFTWARE,SYSTEM} (minimal-hive merged with
#   phony-data/windows-{software,system}.reg, libguestfs's), an empty
#   Windows/System32/Drivers, Windows/System32/cmd.exe (helpers.py pe i386),
#   "Program Files", autoexec.bat. MountedDevices maps C: to sda2.
# multi.img (80 MiB raw, MBR disk id 0x$MULTI_DISK_ID)
#   /dev/sda1  FAT16 (type 06), 16 MiB, label "FAT16VOL", id 1600-0001
#   /dev/sda2  FAT32 (type 0c), 34 MiB, label "FAT32VOL", id 3200-0002
#   /dev/sda3  extended (type 05)
#   /dev/sda5  ext2 (1 KiB blocks), 8 MiB, label "ext2vol", UUID $MULTI_EXT2_UUID
#   /dev/sda6  ext3 (1 KiB blocks), 8 MiB, label "ext3vol", UUID $MULTI_EXT3_UUID
#   /dev/sda7  swap (type 82), 4 MiB, label "swapvol", UUID $MULTI_SWAP_UUID
#   /dev/sda8  unformatted (type 83), 2 MiB of zeros
# chain-base.qcow2 / chain-top.qcow2 (4 MiB virtual, 64 KiB clusters; top's
#   backing file is the relative name "chain-base.qcow2", format qcow2).
#   Reading the top gives, by guest byte offset:
#     [0, 64K)           0x55  (top)
#     [64K, 1M)          0x11  (base)
#     [1M, 1M+32K)       0x22  (base, via copy-on-write into top's cluster)
#     [1M+32K, 1M+36K)   0x66  (top)
#     [1M+36K, 2M-64K)   0x22  (base)
#     [2M-64K, 2M)       0x00  (top: zero-flagged cluster hiding base's 0x22)
#     [2M, 3M)           0x00  (unallocated in both)
#     [3M, 3M+64K)       0x77  (top)
#     [3M+64K, 4M)       0x00
#   Reading the base alone: [0,1M) 0x11, [1M,2M) 0x22, the rest 0x00.
# compressed.qcow2: linux.img with every cluster zlib-compressed
#   (compression_type=zlib); reads equal linux.img byte for byte.
# probe/ (whole-device filesystems; label / UUID as blkid reports them):
#   xfs.img        xfs      "xfsvol"    $PROBE_XFS_UUID
#   btrfs.img      btrfs    "btrfsvol"  $PROBE_BTRFS_UUID
#   iso9660.iso    iso9660  "GX_ISO_VOL" 2024-01-02-03-04-05-00 (Joliet, no Rock Ridge:
#                  its TF records would carry the build's real ctimes)
#   swap.img       swap     "swapvol"   $PROBE_SWAP_UUID
#   lvm-pv.img     LVM2_member (no label) $PROBE_PV_UUID
#   luks.img       LUKS2    "luksvol"   $PROBE_LUKS2_UUID  (passphrase "guestx",
#   luks1.img      LUKS1    (no label)  $PROBE_LUKS1_UUID   pbkdf2, 1000 iterations)
#   exfat.img      exfat    "exfatvol"  1234-ABCD
#   ext4-nolabel.img ext4   (no label)  $PROBE_EXT4_UUID
#   vfat-fat12.img vfat FAT12 "FAT12VOL" 0012-ABCD
#   ntfs.img       ntfs     "ntfsvol"   $PROBE_NTFS_SERIAL
# xfs.img, xfs-v4.img, bigtree-xfs.img: XFS images (v5, v4, 10,000 entries),
#   built by images/xfs.sh (sourced below), whose header lists their contents.
# damaged/:
#   truncated.qcow2          linux.qcow2 cut to half its length (header, L1,
#                            refcounts and L2 intact; later data clusters gone)
#   truncated-header.qcow2   the first 48 bytes of a qcow2 (header cut short)
#   bad-gpt-crc.img          4 MiB GPT (like gpt-ok below) whose primary header
#                            CRC is wrong; the backup header is intact
#   both-gpt-bad.img         the same with the backup header CRC wrong too
#   past-end.img             4 MiB MBR: p1 sectors 2048+2048 (fine), p2 starts
#                            at 6144 and claims 204800 sectors (past the end)
#   ebr-loop.img             8 MiB MBR: extended partition whose second EBR
#                            links back to the first (an endless chain)
#   loop-ext4.img            whole-device ext4 (label "loop", UUID
#                            $LOOP_EXT4_UUID) with /a/b/file.txt, where
#                            /a/b/up links back to / and /a/self to /a:
#                            a walk that follows entries never ends
#   empty.img                zero bytes
#   not-an-image.txt         a line of text
#   raw-with-qcow2-header.img  a qcow2 header naming /etc/passwd (raw) as its
#                            backing file: must never be probed as qcow2 when
#                            the user said raw (CVE-2010-3851)
#   The GPT base of the two GPT files: disk GUID $GPTD_DISK_GUID, p1 sectors
#   2048..6143 GUID $GPTD_P1_GUID name "data", vfat FAT12 label "GPTDATA" id
#   0BAD-C0DE holding HELLO.TXT ("hello from a damaged GPT\n").
# bombs/ (resource bombs: qcow2 files of a few hundred KiB whose contents claim
#   enormous sizes; a reader that allocates or loops by such a field without
#   checking it against the device and a hard cap aborts or hangs; every tool
#   must answer each with a clear error, quickly and in little memory):
#   (The ext4 ones keep s_inodes_count = groups x s_inodes_per_group, as the
#   kernel requires, so that readers get past that check: helpers.py ext4-claim.)
#   ext4-groups.qcow2      4 TiB virtual; whole-device ext4 (1 KiB blocks) whose
#                          superblock claims 2^32-7 blocks in groups of 8:
#                          536,870,911 group descriptors (16 GiB)
#   ext4-groups64.qcow2    128 TiB virtual; 64bit ext4 (4 KiB blocks) claiming
#                          2^35 blocks in groups of 32768: 2^20 descriptors
#                          (64 MiB), the most the direct engine reads
#   ext4-journal.qcow2     2 TiB virtual; ext4 (1 KiB blocks, 0x7FF00000 blocks)
#                          marked needs_recovery whose journal inode claims
#                          2^31 - 2^20 blocks
#   ext4-dir.qcow2         2 TiB virtual; the same geometry, and a directory /d
#                          claiming 1 GiB - 1 KiB (2^20 - 1 blocks, all holes)
#   fat32-huge.qcow2       2 TiB virtual; FAT32 claiming 2^32-1 sectors of 8 KiB
#                          clusters with two 1 GiB FATs (268 million entries)
#   fat-chain.qcow2        1.5 GiB FAT32 (512-byte clusters) holding BIG.BIN,
#                          which claims 4 GiB - 1 bytes on a chain of every
#                          other cluster: 1.5 million pieces
#   ntfs-record.qcow2      1 TiB virtual; NTFS whose boot sector says 2 MiB
#                          clusters and 127-cluster (254 MiB) MFT records
#   ntfs-index.qcow2       NTFS whose root directory's $INDEX_ROOT claims
#                          index records of 4 GiB - 16 bytes
#   gpt-entries.qcow2      2 TiB virtual; GPT header (valid CRCs) claiming
#                          2^32-1 partition entries
#   qcow2-l1.qcow2         qcow2 header claiming an L1 table of 2^31-1 entries
#   qcow2-refcount.qcow2   qcow2 header claiming a refcount table of 2^31 clusters
#   hive.qcow2             ext4 holding a Windows root whose SOFTWARE and SYSTEM
#                          hives are "regf" base blocks claiming 1 GiB - 4 KiB of
#                          hive bins, sparse files of that size (zeros after 4 KiB)
#   rpmdb.qcow2            ext4 holding a CentOS 7 root whose rpm Packages file is
#                          a Berkeley DB meta page claiming 2 GiB - 4 KiB, sparse
set -euo pipefail
export LC_ALL=C TZ=UTC
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

KEY=$(cat "$HERE/build.sh" "$HERE/xfs.sh" "$HERE/helpers.py" "$HERE"/data/* \
  "$HERE"/phony-data/windows-*.reg | sha256sum | cut -d' ' -f1)
stamp_ok() { [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$KEY" ]; }
# The phony guests for inspection and the LVM/LUKS guests have their own
# recipes (phony.sh, volumes.sh), caches and locks.
phony() { bash "$HERE/phony.sh" "$OUT"; bash "$HERE/volumes.sh" "$OUT"; }
stamp_ok && { phony; exit 0; }

exec 9>"$OUT/.lock"
flock 9
stamp_ok && { exec 9>&-; phony; exit 0; }

START_NS=$(date +%s%N)
export SOURCE_DATE_EPOCH=1704164645           # 2024-01-02 03:04:05 UTC
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
export MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0
export LVM_SUPPRESS_FD_WARNINGS=1
FAKETIME_STR="2024-01-02 03:04:05"
# Prefer the system interpreter: a pyenv shim first on PATH costs 0.5 s a call.
PYTHON=$(command -v /usr/bin/python3 || command -v python3 || true)
HELP=("$PYTHON" -S "$HERE/helpers.py")

# Fixed identities (documented above).
LINUX_DISK_GUID=8F3C2A51-6B7D-4E90-A1B2-C3D4E5F60718
LINUX_P1_GUID=1E2D3C4B-5A69-4788-9A0B-1C2D3E4F5061
LINUX_P2_GUID=2F3E4D5C-6B7A-4899-AB1C-2D3E4F506172
LINUX_ROOT_UUID=5c3a1f6e-8d2b-4c7a-9e10-2f4b6d8a0c11
LINUX_ROOT_SEED=0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a
LINUX_ESP_ID=4EF1A0C3
BIGTREE_UUID=b16b16b1-6b16-4b16-8b16-b16b16b16b16
WIN_DISK_ID=5EC7E5A1
WIN_NTFS_SERIAL=01A2B3C4D5E6F708
MULTI_DISK_ID=4D554C54
MULTI_EXT2_UUID=e2e2e2e2-0000-4000-8000-000000000002
MULTI_EXT3_UUID=e3e3e3e3-0000-4000-8000-000000000003
MULTI_SWAP_UUID=5a5a5a5a-0000-4000-8000-000000000007
PROBE_XFS_UUID=0f5f0f5f-1111-4222-8333-444455556666
PROBE_BTRFS_UUID=b7f5b7f5-1111-4222-8333-444455556666
PROBE_SWAP_UUID=5aa95aa9-1111-4222-8333-444455556666
PROBE_PV_UUID=GXpvAB-cdef-ghij-klmn-opqr-stuv-wxyz01
PROBE_LUKS2_UUID=1c5a1c5a-2222-4333-8444-555566667777
PROBE_LUKS1_UUID=1c5a0001-2222-4333-8444-555566667777
PROBE_EXT4_UUID=e4e4e4e4-1111-4222-8333-444455556666
PROBE_NTFS_SERIAL=0123456789ABCDEF
LOOP_EXT4_UUID=100b100b-1111-4222-8333-444455556666
GPTD_DISK_GUID=BAD0BAD0-1111-4222-8333-444455556666
GPTD_P1_GUID=BAD1BAD1-1111-4222-8333-444455556666

rm -rf "$OUT"/.build.*    # left by a killed build; we hold the lock
T=$(mktemp -d "$OUT/.build.XXXXXX")
# Work files go to a scratch directory, on tmpfs when it has room: creating
# thousands of small files on a slow shared disk costs seconds.
shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }' || true)
if [ -w /dev/shm ] && [ "${shm_free:-0}" -gt $((512 * 1024)) ]; then
  S=$(mktemp -d /dev/shm/gx-images.XXXXXX)
else
  S=$T/.scratch
  mkdir -p "$S"
fi
MOUNTED=()
NTFS_PID=
cleanup() {
  local m
  for m in "${MOUNTED[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ -n "$NTFS_PID" ] && { kill "$NTFS_PID" 2>/dev/null || true; wait "$NTFS_PID" 2>/dev/null || true; }
  rm -rf "$T" "$S"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

SKIPPED=()
skip() { echo "images/build.sh: WARNING: skipping $1: $2" >&2; SKIPPED+=("$1: $2"); }

# libfaketime freezes the clock of tools that stamp "now" into what they write.
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1 || true)
faked() {
  if [ -n "$FAKETIME_LIB" ]; then
    LD_PRELOAD=$FAKETIME_LIB FAKETIME="$FAKETIME_STR" FAKETIME_DONT_RESET=1 "$@"
  else
    "$@"
  fi
}

# Sets every mtime/atime below $1 (and $1) to the build epoch.
fixtimes() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

# mkext TYPE SIZE IMG SRC UUID LABEL SEED [mke2fs options...]: an ext2/3/4
# image filled from SRC (may be empty) with reproducible bytes: fixed UUID,
# directory hash SEED and times (ctimes fixed afterwards with debugfs).
mkext() {
  local type=$1 size=$2 img=$3 src=$4 uuid=$5 label=$6 seed=$7; shift 7
  rm -f "$img"; truncate -s "$size" "$img"
  local lab=(); [ -n "$label" ] && lab=(-L "$label")
  local d=(); [ -n "$src" ] && d=(-d "$src")
  "mkfs.$type" -q -F -U "$uuid" -E "hash_seed=$seed" "${lab[@]}" "$@" "${d[@]}" "$img"
  if [ -n "$src" ]; then
    "${HELP[@]}" debugfs-ctime "$src" "$SOURCE_DATE_EPOCH" >"$S/debugfs.cmds"
    debugfs -w -f "$S/debugfs.cmds" "$img" >/dev/null 2>"$S/debugfs.err"
    if grep -v '^debugfs ' "$S/debugfs.err" | grep -q .; then cat "$S/debugfs.err" >&2; return 1; fi
  fi
}

# put PART DISK START_SECTOR: copy a partition image into a disk image.
put() {
  dd if="$1" of="$2" bs=1M oflag=seek_bytes seek=$(($3 * 512)) conv=notrunc,sparse status=none
}

# mcopy_tree IMG SRC: copy SRC's contents into a FAT image, keeping mtimes.
mcopy_tree() {
  local img=$1 src=$2 f
  for f in "$src"/*; do mcopy -s -m -Q -i "$img" "$f" ::/; done
}

# ---------------------------------------------------------------- linux.img
make_linux_root() {
  local r=$1
  mkdir -p "$r"/{boot/efi,dev,etc,home/user,proc,root,run,sys,tmp,var/log,var/tmp,var/lib/dpkg}
  mkdir -p "$r"/usr/{bin,sbin,lib,lib64,share/doc,share/blob,share/doc-many,local/bin}
  ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"

  cat >"$r/usr/lib/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
EOF
  ln -s ../usr/lib/os-release "$r/etc/os-release"
  echo 12.5 >"$r/etc/debian_version"
  echo debian12.test >"$r/etc/hostname"
  cat >"$r/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	debian12.test	debian12

::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
  local esp_uuid=${LINUX_ESP_ID:0:4}-${LINUX_ESP_ID:4:4}
  cat >"$r/etc/fstab" <<EOF
# /etc/fstab: static file system information.
#
# <file system>	<mount point>	<type>	<options>	<dump>	<pass>
UUID=$LINUX_ROOT_UUID	/	ext4	errors=remount-ro	0	1
UUID=$esp_uuid	/boot/efi	vfat	umask=0077	0	1
tmpfs	/tmp	tmpfs	defaults,nosuid,nodev	0	0
EOF
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
user:x:1000:1000:Test User,,,:/home/user:/bin/bash
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
shadow:x:42:
user:x:1000:
EOF
  printf 'root:*:19700:0:99999:7:::\nuser:!:19700:0:99999:7:::\n' >"$r/etc/shadow"
  chgrp 42 "$r/etc/shadow"; chmod 0640 "$r/etc/shadow"
  printf 'a\nb\nc\nd\ne\nf\n' >"$r/etc/test3"
  chown 10:11 "$r/etc/test3"
  echo 'Debian GNU/Linux 12 \n \l' >"$r/etc/issue"
  mkdir -p "$r/etc/alternatives" "$r/etc/apt/sources.list.d"
  echo 'deb http://deb.debian.org/debian bookworm main' >"$r/etc/apt/sources.list"
  ln -s /usr/bin/ls "$r/etc/alternatives/vi"
  ln -s /etc/alternatives/vi "$r/usr/bin/vi"
  ln -s ../proc/self/mounts "$r/etc/mtab"

  # /etc/testdir: one of every file type, mode and symlink kind.
  local t=$r/etc/testdir
  mkdir -p "$t/sticky" "$t/subdir"
  mkfifo "$t/fifo"
  mknod "$t/chardev" c 1 3
  mknod "$t/blockdev" b 7 0
  : >"$t/empty"
  echo secret >"$t/secret-0600"; chmod 0600 "$t/secret-0600"
  echo 'setuid' >"$t/setuid-4755"; chmod 4755 "$t/setuid-4755"
  echo 'setgid' >"$t/setgid-2755"; chmod 2755 "$t/setgid-2755"
  chmod 1777 "$t/sticky"
  echo 'in a subdirectory' >"$t/subdir/file.txt"
  ln -s ../hostname "$t/link-relative"
  ln -s /etc/hostname "$t/link-absolute"
  ln -s /nonexistent/target "$t/link-dangling"
  ln -s subdir "$t/link-to-dir"
  ln "$r/etc/test3" "$t/hardlink-to-test3"
  echo 'spaces' >"$t/name with spaces.txt"
  echo 'unicode' >"$t/ünïcödé.txt"
  echo 'old' >"$t/old-file"

  "${HELP[@]}" elf "$r/usr/bin/ls" 4000
  "${HELP[@]}" elf "$r/usr/bin/su" 100
  chmod 0755 "$r/usr/bin/ls"; chmod 4755 "$r/usr/bin/su"
  "${HELP[@]}" elf "$r/usr/local/bin/tool" 10; chmod 0755 "$r/usr/local/bin/tool"
  mknod "$r/dev/null" c 1 3; chmod 0666 "$r/dev/null"
  mknod "$r/dev/console" c 5 1; chmod 0600 "$r/dev/console"
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 0700 "$r/root"
  echo 'export PS1="# "' >"$r/root/.profile"
  echo 'hello from user' >"$r/home/user/notes.txt"
  chown -R 1000:1000 "$r/home/user"; chmod 0750 "$r/home/user"
  echo 'Jan  2 03:04:05 debian12 kernel: Linux version 6.1.0-18-amd64' >"$r/var/log/syslog"
  chmod 0640 "$r/var/log/syslog"
  echo 'CONFIG_X86_64=y' >"$r/boot/config-6.1.0-18-amd64"
  "${HELP[@]}" blob "$r/boot/vmlinuz-6.1.0-18-amd64" 65536 vmlinuz

  cat >"$r/var/lib/dpkg/status" <<'EOF'
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system.

Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 7164
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.

Package: coreutils
Essential: yes
Status: install ok installed
Priority: required
Section: utils
Installed-Size: 18062
Maintainer: Michael Stone <mstone@debian.org>
Architecture: amd64
Version: 9.1-1
Description: GNU core utilities
 This package contains the basic file, shell and text manipulation utilities.

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs.

Package: openssh-server
Status: install ok installed
Priority: optional
Section: net
Installed-Size: 1965
Maintainer: Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u2
Description: secure shell (SSH) server, for secure access from remote machines
 This is the portable version of OpenSSH.

Package: tzdata
Status: install ok installed
Priority: required
Section: localization
Installed-Size: 3397
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 2024a-0+deb12u1
Description: time zone and daylight-saving time data

Package: oldpkg
Status: deinstall ok config-files
Priority: optional
Section: misc
Installed-Size: 10
Maintainer: Nobody <nobody@example.invalid>
Architecture: amd64
Version: 0.9-1
Description: a removed package whose configuration files remain
EOF

  local i
  for i in $(seq -w 0 299); do echo "This is file $i." >"$r/usr/share/doc-many/file-$i.txt"; done
  local deep=$r/usr/share/deep
  for i in $(seq -w 1 12); do deep=$deep/l$i; done
  mkdir -p "$deep"; echo 'at the bottom' >"$deep/deep-file.txt"
  "${HELP[@]}" blob "$r/usr/share/blob/random-4M.bin" $((4 * 1024 * 1024))
  printf 'START\n' >"$r/var/tmp/sparse.bin"
  printf 'MIDDLE\n' | dd of="$r/var/tmp/sparse.bin" bs=1 seek=$((4 * 1024 * 1024)) conv=notrunc status=none
  truncate -s $((8 * 1024 * 1024)) "$r/var/tmp/sparse.bin"
  mkdir -p "$r/usr/share/doc/bash"; echo 'Bash docs.' >"$r/usr/share/doc/bash/README"

  fixtimes "$r"
  touch -h -d '2001-02-03 04:05:06 UTC' "$t/old-file"
}

make_esp_tree() {
  local e=$1
  mkdir -p "$e/EFI/debian" "$e/EFI/BOOT"
  "${HELP[@]}" pe "$e/EFI/debian/grubx64.efi"
  "${HELP[@]}" pe "$e/EFI/debian/shimx64.efi"
  "${HELP[@]}" pe "$e/EFI/BOOT/BOOTX64.EFI"
  printf "search.fs_uuid %s root\nset prefix=(\$root)'/boot/grub'\nconfigfile \$prefix/grub.cfg\n" \
    "$LINUX_ROOT_UUID" >"$e/EFI/debian/grub.cfg"
  echo 'a file with a long name' >"$e/A long file name.txt"
  echo 'lower' >"$e/lowercase.txt"
  echo 'upper' >"$e/UPPER.TXT"
  echo 'mixed' >"$e/MixedCase File.Txt"
  fixtimes "$e"
}

build_linux() {
  local d=$S/linux
  mkdir -p "$d"
  make_linux_root "$d/root"
  make_esp_tree "$d/esp"
  truncate -s 16M "$d/esp.img"
  mkfs.vfat --invariant -F 16 -n EFI -i "$LINUX_ESP_ID" -h 2048 "$d/esp.img" >/dev/null
  mcopy_tree "$d/esp.img" "$d/esp"
  mkext ext4 40M "$d/root.img" "$d/root" "$LINUX_ROOT_UUID" root "$LINUX_ROOT_SEED" -b 4096 -I 256
  local img=$T/linux.img
  truncate -s 64M "$img"
  sgdisk -o -U "$LINUX_DISK_GUID" \
    -n 1:2048:34815 -t 1:EF00 -c 1:"EFI System Partition" -u 1:"$LINUX_P1_GUID" \
    -n 2:34816:116735 -t 2:8300 -c 2:root -u 2:"$LINUX_P2_GUID" "$img" >/dev/null
  put "$d/esp.img" "$img" 2048
  put "$d/root.img" "$img" 34816
  qemu-img convert -q -m 1 -f raw -O qcow2 "$img" "$T/linux.qcow2"
  qemu-img convert -q -m 1 -c -f raw -O qcow2 -o compression_type=zlib "$img" "$T/compressed.qcow2"
  rm -rf "$d"
}

build_bigtree() {
  local d=$S/bigtree
  mkdir -p "$d/src"
  "${HELP[@]}" manyfiles "$d/src" 100 99
  fixtimes "$d/src"
  mkext ext4 24M "$T/bigtree.img" "$d/src" "$BIGTREE_UUID" bigtree "$BIGTREE_UUID" -b 1024 -I 256 -N 10240
  rm -rf "$d"
}

# -------------------------------------------------------------- windows.img
# ntfs_mount IMG: mounts IMG at $S/ntfs-mnt with ntfs-3g, its clock frozen by
# libfaketime so every NTFS time is the build epoch; fails if FUSE cannot.
# ntfs_umount: unmounts and waits for ntfs-3g to finish writing (a FUSE
# umount returns before the daemon has flushed).
NTFS_MNT=
ntfs_mount() {
  local img=$1 i
  NTFS_MNT=$S/ntfs-mnt
  mkdir -p "$NTFS_MNT"
  [ -c /dev/fuse ] || { echo "images/build.sh: /dev/fuse is missing" >&2; return 1; }
  LD_PRELOAD=$FAKETIME_LIB FAKETIME="$FAKETIME_STR" \
    ntfs-3g -o noatime,no_detach "$img" "$NTFS_MNT" >"$S/ntfs-3g.log" 2>&1 &
  NTFS_PID=$!
  for i in $(seq 200); do
    mountpoint -q "$NTFS_MNT" && break
    kill -0 "$NTFS_PID" 2>/dev/null || break
    sleep 0.05
  done
  if ! mountpoint -q "$NTFS_MNT"; then
    kill "$NTFS_PID" 2>/dev/null || true; wait "$NTFS_PID" 2>/dev/null || true; NTFS_PID=
    cat "$S/ntfs-3g.log" >&2
    return 1
  fi
  MOUNTED+=("$NTFS_MNT")
}
ntfs_umount() {
  umount "$NTFS_MNT"
  MOUNTED=()
  wait "$NTFS_PID"
  NTFS_PID=
}

hive() { # hive OUT PREFIX REGFILE
  cp "$HERE/data/minimal-hive" "$1"; chmod 0644 "$1"
  [ -n "$3" ] && hivexregedit --merge --prefix "$2" "$1" "$3"
  return 0
}

windows_tree() {
  local m=$1 w=$1/Windows/System32 h=$S/win
  mkdir -p "$w/config" "$w/drivers/etc" "$m/Program Files/Common Files" \
    "$m/Program Files/Guestx" "$m/Program Files/7-Zip" "$m/Program Files (x86)/OldApp" \
    "$m/ProgramData/Microsoft" "$m/Users/Default" "$m/Users/Public/Documents" \
    "$m/Users/test/Documents" "$m/System Volume Information"
  local f
  for f in SOFTWARE SYSTEM DEFAULT SAM SECURITY; do cp "$h/$f" "$w/config/$f"; done
  cp "$h/NTUSER.DAT.default" "$m/Users/Default/NTUSER.DAT"
  cp "$h/NTUSER.DAT.test" "$m/Users/test/NTUSER.DAT"
  cp "$h/cmd.exe" "$w/cmd.exe"
  cp "$h/cmd.exe" "$m/Program Files/Guestx/guestx.exe"
  printf '127.0.0.1       localhost\r\n::1             localhost\r\n' >"$w/drivers/etc/hosts"
  printf 'Guestx test notes\r\n' >"$m/Users/test/Documents/Notes.txt"
  printf 'REM autoexec.bat\r\n' >"$m/autoexec.bat"
  : >"$m/config.sys"
  printf '[General]\r\nVersion=23.01\r\n' >"$m/Program Files/7-Zip/readme.txt"
}

build_windows() {
  local h=$S/win
  mkdir -p "$h"
  "${HELP[@]}" reg-software "$h/software.reg"
  "${HELP[@]}" reg-system "$h/system.reg" "$WIN_DISK_ID" $((2048 * 512))
  "${HELP[@]}" reg-user "$h/default.reg" .DEFAULT
  "${HELP[@]}" reg-user "$h/test.reg" test
  hive "$h/SOFTWARE" 'HKEY_LOCAL_MACHINE\SOFTWARE' "$h/software.reg"
  hive "$h/SYSTEM" 'HKEY_LOCAL_MACHINE\SYSTEM' "$h/system.reg"
  hive "$h/DEFAULT" 'HKEY_USERS\.DEFAULT' "$h/default.reg"
  hive "$h/SAM" '' ''
  hive "$h/SECURITY" '' ''
  hive "$h/NTUSER.DAT.default" 'HKEY_USERS\.DEFAULT' "$h/default.reg"
  hive "$h/NTUSER.DAT.test" 'HKEY_USERS\test' "$h/test.reg"
  "${HELP[@]}" pe "$h/cmd.exe"

  local part=$h/ntfs.img img=$T/windows.img
  truncate -s $((63488 * 512)) "$part"
  mkntfs -q -F -Q -T -L Windows -c 4096 -p 2048 -H 255 -S 63 "$part" >/dev/null 2>&1
  if ! ntfs_mount "$part"; then
    skip windows.img "ntfs-3g could not mount through FUSE (/dev/fuse missing or not usable);
  ntfsprogs (ntfscp) cannot create directories, so there is no FUSE-free way to build it"
    rm -rf "$h"; return 0
  fi
  windows_tree "$NTFS_MNT"
  ntfs_umount
  "${HELP[@]}" ntfs-serial "$part" "$WIN_NTFS_SERIAL"
  truncate -s 32M "$img"
  sfdisk -q "$img" >/dev/null <<EOF
label: dos
label-id: 0x$WIN_DISK_ID
unit: sectors

start=2048, size=63488, type=7, bootable
EOF
  put "$part" "$img" 2048
  rm -rf "$h"
}

build_lg_windows() {
  local h=$S/lgwin img=$T/libguestfs-windows.img p
  mkdir -p "$h"
  cp "$HERE/data/minimal-hive" "$h/SOFTWARE"; cp "$HERE/data/minimal-hive" "$h/SYSTEM"
  chmod 0644 "$h/SOFTWARE" "$h/SYSTEM"
  hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$h/SOFTWARE" "$HERE/phony-data/windows-software.reg"
  hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$h/SYSTEM" "$HERE/phony-data/windows-system.reg"
  "${HELP[@]}" pe "$h/cmd.exe" i386
  truncate -s 512M "$img"
  printf 'label: dos\nunit: sectors\n\nstart=64, size=524224, type=7\nstart=524288, size=524224, type=7\n' |
    sfdisk -q "$img" >/dev/null
  printf '1234' | dd of="$img" bs=1 seek=$((0x1b8)) conv=notrunc status=none
  for p in 1 2; do
    truncate -s $((524224 * 512)) "$h/p$p.img"
    mkntfs -q -F -Q -T -c 4096 -p "$((p == 1 ? 64 : 524288))" -H 255 -S 63 "$h/p$p.img" >/dev/null 2>&1
  done
  if ! ntfs_mount "$h/p2.img"; then
    skip libguestfs-windows.img "ntfs-3g could not mount through FUSE"
    rm -rf "$h" "$img"; return 0
  fi
  local w=$NTFS_MNT/Windows/System32
  mkdir -p "$w/Config" "$w/Drivers" "$NTFS_MNT/Program Files"
  cp "$h/SOFTWARE" "$h/SYSTEM" "$w/Config/"
  cp "$h/cmd.exe" "$w/cmd.exe"
  : >"$NTFS_MNT/autoexec.bat"
  ntfs_umount
  "${HELP[@]}" ntfs-serial "$h/p1.img" 091A29CC586B6091
  "${HELP[@]}" ntfs-serial "$h/p2.img" 091A29CC586B609C
  put "$h/p1.img" "$img" 64
  put "$h/p2.img" "$img" 524288
  rm -rf "$h"
}

# ---------------------------------------------------------------- multi.img
build_multi() {
  local d=$S/multi img=$T/multi.img
  mkdir -p "$d/fat16" "$d/fat32/Dir With Spaces" "$d/fat16/SUBDIR" "$d/ext2/dir" "$d/ext3"
  echo 'fat16 readme' >"$d/fat16/README.TXT"
  echo 'long name on fat16' >"$d/fat16/Long File Name.txt"
  echo 'in subdir' >"$d/fat16/SUBDIR/FILE.TXT"
  echo 'hello fat32' >"$d/fat32/hello.txt"
  echo 'nested' >"$d/fat32/Dir With Spaces/nested.txt"
  echo 'ext2 file' >"$d/ext2/file.txt"
  echo 'deeper' >"$d/ext2/dir/inner.txt"
  echo 'ext3 file' >"$d/ext3/journaled.txt"
  fixtimes "$d"

  truncate -s 80M "$img"
  sfdisk -q "$img" >/dev/null <<EOF
label: dos
label-id: 0x$MULTI_DISK_ID
unit: sectors

${img}1 : start=2048, size=32768, type=6
${img}2 : start=34816, size=69632, type=c
${img}3 : start=104448, size=57344, type=5
${img}5 : size=16384, type=83
${img}6 : size=16384, type=83
${img}7 : size=8192, type=82
${img}8 : size=4096, type=83
EOF
  local starts
  starts=$(sfdisk --json "$img" | "${HELP[@]}" sfdisk-starts "$img")
  start_of() { awk -v n="$1" '$1 == n { print $2 }' <<<"$starts"; }
  size_of() { awk -v n="$1" '$1 == n { print $3 * 512 }' <<<"$starts"; }

  truncate -s "$(size_of 1)" "$d/p1"
  mkfs.vfat --invariant -F 16 -n FAT16VOL -i 16000001 -h "$(start_of 1)" "$d/p1" >/dev/null
  mcopy_tree "$d/p1" "$d/fat16"
  truncate -s "$(size_of 2)" "$d/p2"
  mkfs.vfat --invariant -F 32 -s 1 -n FAT32VOL -i 32000002 -h "$(start_of 2)" "$d/p2" >/dev/null
  mcopy_tree "$d/p2" "$d/fat32"
  mkext ext2 "$(size_of 5)" "$d/p5" "$d/ext2" "$MULTI_EXT2_UUID" ext2vol "$MULTI_EXT2_UUID" -b 1024
  mkext ext3 "$(size_of 6)" "$d/p6" "$d/ext3" "$MULTI_EXT3_UUID" ext3vol "$MULTI_EXT3_UUID" -b 1024
  truncate -s "$(size_of 7)" "$d/p7"
  mkswap -q -U "$MULTI_SWAP_UUID" -L swapvol "$d/p7" >/dev/null
  local n
  for n in 1 2 5 6 7; do put "$d/p$n" "$img" "$(start_of $n)"; done
  rm -rf "$d"
}

# ------------------------------------------------------------ qcow2 chain
build_chain() {
  (
    cd "$T"
    qemu-img create -q -f qcow2 -o cluster_size=65536 chain-base.qcow2 4M
    qemu-io -f qcow2 -c 'write -P 0x11 0 1M' -c 'write -P 0x22 1M 1M' chain-base.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size=65536 -F qcow2 -b chain-base.qcow2 chain-top.qcow2 4M
    qemu-io -f qcow2 \
      -c 'write -P 0x55 0 64k' \
      -c "write -P 0x66 $((1024 * 1024 + 32 * 1024)) 4k" \
      -c "write -z $((2 * 1024 * 1024 - 64 * 1024)) 64k" \
      -c "write -P 0x77 $((3 * 1024 * 1024)) 64k" chain-top.qcow2 >/dev/null
  )
}

# ------------------------------------------------------------------- probe/
build_probe() {
  local p=$T/probe
  mkdir -p "$p"
  truncate -s 32M "$p/xfs.img"
  # xfsprogs refuses filesystems under 300 MB unless it believes it runs
  # under fstests; these variables are its documented escape hatch.
  TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 faked mkfs.xfs -q -f -L xfsvol \
    -m uuid=$PROBE_XFS_UUID "$p/xfs.img" >/dev/null
  truncate -s 128M "$p/btrfs.img"
  faked mkfs.btrfs -q -f -L btrfsvol -U "$PROBE_BTRFS_UUID" "$p/btrfs.img" >/dev/null
  mkdir -p "$S/iso/docs"
  echo 'hello from iso9660' >"$S/iso/README.TXT"
  echo 'doc' >"$S/iso/docs/doc.txt"
  fixtimes "$S/iso"
  faked genisoimage -quiet -V GX_ISO_VOL -J -o "$p/iso9660.iso" "$S/iso" 2>/dev/null
  truncate -s 4M "$p/swap.img"
  mkswap -q -U "$PROBE_SWAP_UUID" -L swapvol "$p/swap.img" >/dev/null

  truncate -s 8M "$p/lvm-pv.img"
  local loop
  if loop=$(losetup -f --show "$p/lvm-pv.img" 2>/dev/null); then
    if ! lvm pvcreate -q --nolocking \
      --config "devices { filter=[\"a|^$loop\$|\",\"r|.*|\"] obtain_device_list_from_udev=0 use_devicesfile=0 } activation { udev_sync=0 udev_rules=0 } backup { backup=0 archive=0 }" \
      --uuid "$PROBE_PV_UUID" --norestorefile -f "$loop" >"$S/lvm.log" 2>&1; then
      cat "$S/lvm.log" >&2; losetup -d "$loop"; return 1
    fi
    losetup -d "$loop"
  else
    rm -f "$p/lvm-pv.img"
    skip probe/lvm-pv.img "losetup failed (no loop devices here); pvcreate only writes to block devices"
  fi

  printf guestx >"$S/luks.key"
  local luks=(--batch-mode --key-file "$S/luks.key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000
    --hash sha256 --cipher aes-xts-plain64 --key-size 256)
  truncate -s 2M "$p/luks.img"
  cryptsetup luksFormat "${luks[@]}" --type luks2 --luks2-metadata-size 16k --luks2-keyslots-size 512k --uuid "$PROBE_LUKS2_UUID" \
    --label luksvol "$p/luks.img" >/dev/null
  truncate -s 4M "$p/luks1.img"
  cryptsetup luksFormat "${luks[@]}" --type luks1 --uuid "$PROBE_LUKS1_UUID" \
    "$p/luks1.img" >/dev/null

  truncate -s 8M "$p/exfat.img"
  faked mkfs.exfat -L exfatvol "$p/exfat.img" >/dev/null
  "${HELP[@]}" exfat-serial "$p/exfat.img" 1234ABCD
  mkext ext4 8M "$p/ext4-nolabel.img" "" "$PROBE_EXT4_UUID" "" "$PROBE_EXT4_UUID"
  truncate -s 1M "$p/vfat-fat12.img"
  mkfs.vfat --invariant -F 12 -n FAT12VOL -i 0012ABCD "$p/vfat-fat12.img" >/dev/null
  truncate -s 8M "$p/ntfs.img"
  mkntfs -q -F -Q -T -L ntfsvol "$p/ntfs.img" >/dev/null 2>&1
  "${HELP[@]}" ntfs-serial "$p/ntfs.img" "$PROBE_NTFS_SERIAL"
}

# ----------------------------------------------------------------- damaged/
build_damaged() {
  local d=$T/damaged
  mkdir -p "$d"
  local q=$T/linux.qcow2 n
  n=$(stat -c %s "$q")
  head -c $((n / 2)) "$q" >"$d/truncated.qcow2"
  head -c 48 "$q" >"$d/truncated-header.qcow2"

  # A healthy small GPT disk, then broken two ways.
  local g=$S/gpt-ok.img
  truncate -s 4M "$g"
  sgdisk -o -U "$GPTD_DISK_GUID" -n 1:2048:6143 -t 1:0700 -c 1:data \
    -u 1:"$GPTD_P1_GUID" "$g" >/dev/null
  truncate -s 2M "$S/gptp"
  mkfs.vfat --invariant -F 12 -n GPTDATA -i 0BADC0DE -h 2048 "$S/gptp" >/dev/null
  echo 'hello from a damaged GPT' >"$S/HELLO.TXT"; touch -d "@$SOURCE_DATE_EPOCH" "$S/HELLO.TXT"
  mcopy -m -Q -i "$S/gptp" "$S/HELLO.TXT" ::/
  put "$S/gptp" "$g" 2048
  cp --sparse=always "$g" "$d/bad-gpt-crc.img"
  "${HELP[@]}" gpt-corrupt "$d/bad-gpt-crc.img" primary
  cp --sparse=always "$d/bad-gpt-crc.img" "$d/both-gpt-bad.img"
  "${HELP[@]}" gpt-corrupt "$d/both-gpt-bad.img" backup

  truncate -s 4M "$d/past-end.img"
  "${HELP[@]}" mbr-entry "$d/past-end.img" 1 83 2048 2048
  "${HELP[@]}" mbr-entry "$d/past-end.img" 2 83 6144 204800

  local e=$d/ebr-loop.img
  truncate -s 8M "$e"
  sfdisk -q "$e" >/dev/null <<EOF
label: dos
label-id: 0x0000100B
unit: sectors

${e}1 : start=2048, size=14336, type=5
${e}5 : size=4096, type=83
${e}6 : size=4096, type=83
EOF
  "${HELP[@]}" ebr-loop "$d/ebr-loop.img"

  # An ext4 whose directory tree has cycles: /a/b/up is a second link to
  # the root directory and /a/self a link to /a itself (debugfs "link"
  # makes directory hard links that the kernel would refuse).
  mkdir -p "$S/loop/a/b"; echo 'in a loop' >"$S/loop/a/b/file.txt"; fixtimes "$S/loop"
  mkext ext4 4M "$d/loop-ext4.img" "$S/loop" "$LOOP_EXT4_UUID" loop "$LOOP_EXT4_UUID" -b 1024
  debugfs -w -R "link / /a/b/up" "$d/loop-ext4.img" 2>/dev/null
  debugfs -w -R "link /a /a/self" "$d/loop-ext4.img" 2>/dev/null

  : >"$d/empty.img"
  echo 'This is a plain text file, not a disk image.' >"$d/not-an-image.txt"
  qemu-img create -q -f qcow2 -u -b /etc/passwd -F raw "$d/raw-with-qcow2-header.img" 1M
}

# --------------------------------------------------------------------- xfs
# shellcheck source=images/xfs.sh
. "$HERE/xfs.sh"
# ------------------------------------------------------------------ bombs/
# bigq RAW QCOW2 SIZE: RAW as a qcow2 of virtual size SIZE (a few hundred KiB
# on disk whatever SIZE is).
bigq() {
  qemu-img convert -q -f raw -O qcow2 "$1" "$2"
  qemu-img resize -q -f qcow2 "$2" "$3"
}
# sbpoke IMG OFFSET WIDTH VALUE: set an ext4 superblock field.
sbpoke() { "${HELP[@]}" poke "$1" $((1024 + $2)) "$3" "$4"; }

build_bombs() {
  local d=$T/bombs w=$S/bomb.raw r
  mkdir -p "$d"
  local noc=(-O ^metadata_csum,^resize_inode,^64bit)

  mkext ext4 4M "$w" "" "$LOOP_EXT4_UUID" bomb "$LOOP_EXT4_UUID" -b 1024 "${noc[@]}"
  "${HELP[@]}" ext4-claim "$w" 0xFFFFFFF9 8 8
  bigq "$w" "$d/ext4-groups.qcow2" 4T

  mkext ext4 4M "$w" "" "$LOOP_EXT4_UUID" bomb "$LOOP_EXT4_UUID" -b 4096 -N 1024 \
    -O 64bit,^metadata_csum,^resize_inode,^has_journal
  "${HELP[@]}" ext4-claim "$w" $((1 << 35)) 32768
  bigq "$w" "$d/ext4-groups64.qcow2" 128T

  mkext ext4 16M "$w" "" "$LOOP_EXT4_UUID" bomb "$LOOP_EXT4_UUID" -b 1024 "${noc[@]}" -J size=1
  debugfs -w -R "sif <8> size 0x1FF7FFFFC00" "$w" >/dev/null 2>&1
  debugfs -w -R "feature needs_recovery" "$w" >/dev/null 2>&1
  "${HELP[@]}" ext4-claim "$w" 0x7FF00000 8192
  bigq "$w" "$d/ext4-journal.qcow2" 2T

  mkdir -p "$S/bombdir/d"; fixtimes "$S/bombdir"
  mkext ext4 4M "$w" "$S/bombdir" "$LOOP_EXT4_UUID" bomb "$LOOP_EXT4_UUID" -b 1024 "${noc[@]}"
  debugfs -w -R "sif /d size 0x3FFFFC00" "$w" >/dev/null 2>&1
  "${HELP[@]}" ext4-claim "$w" 0x7FF00000 8192
  bigq "$w" "$d/ext4-dir.qcow2" 2T

  # FAT32, 512-byte sectors, 16 per cluster, 32 reserved, 2 FATs of 2^21
  # sectors: 268,173,309 clusters.
  rm -f "$w"; truncate -s 64M "$w"
  mkfs.vfat --invariant -F 32 -s 16 -R 32 -n BOMB -i B0B0B0B0 "$w" >/dev/null
  "${HELP[@]}" poke "$w" 32 4 0xFFFFFFFF   # BPB_TotSec32
  "${HELP[@]}" poke "$w" 36 4 0x200000     # BPB_FATSz32
  bigq "$w" "$d/fat32-huge.qcow2" 2T

  # FAT32 of 512-byte clusters (1.5 GiB: 3 million clusters) with one file
  # whose chain is in a million pieces.
  rm -f "$w"; truncate -s 1536M "$w"
  mkfs.vfat --invariant -F 32 -s 1 -n BOMB -i B0B0B0B1 "$w" >/dev/null
  "${HELP[@]}" fat-chain-bomb "$w"
  qemu-img convert -q -f raw -O qcow2 "$w" "$d/fat-chain.qcow2"

  rm -f "$w"; truncate -s 8M "$w"
  mkntfs -q -F -Q -T -L bomb "$w" >/dev/null 2>&1
  "${HELP[@]}" poke "$w" 0x0D 1 0xF4          # 2^12 sectors per cluster: 2 MiB
  "${HELP[@]}" poke "$w" 0x28 8 0x80000000    # total sectors: 1 TiB
  "${HELP[@]}" poke "$w" 0x40 1 127           # clusters per MFT record
  bigq "$w" "$d/ntfs-record.qcow2" 1T

  rm -f "$w"; truncate -s 8M "$w"
  mkntfs -q -F -Q -T -L bomb "$w" >/dev/null 2>&1
  "${HELP[@]}" ntfs-root-index-size "$w" 0xFFFFFFF0
  bigq "$w" "$d/ntfs-index.qcow2" 8M

  rm -f "$w"; truncate -s 1M "$w"
  "${HELP[@]}" gpt-bomb "$w" 0xFFFFFFFF
  bigq "$w" "$d/gpt-entries.qcow2" 2T

  qemu-img create -q -f qcow2 "$d/qcow2-l1.qcow2" 64M
  "${HELP[@]}" poke-be "$d/qcow2-l1.qcow2" 36 4 0x7FFFFFFF       # l1_size
  qemu-img create -q -f qcow2 "$d/qcow2-refcount.qcow2" 64M
  "${HELP[@]}" poke-be "$d/qcow2-refcount.qcow2" 56 4 0x80000000 # refcount_table_clusters

  r=$S/bombwin; mkdir -p "$r/Windows/System32/config"
  "${HELP[@]}" pe "$r/Windows/System32/cmd.exe"
  "${HELP[@]}" regf-bomb "$r/Windows/System32/config/SOFTWARE" $(((1 << 30) - 4096))
  "${HELP[@]}" regf-bomb "$r/Windows/System32/config/SYSTEM" $(((1 << 30) - 4096))
  fixtimes "$r"
  mkext ext4 8M "$w" "$r" "$LOOP_EXT4_UUID" bomb "$LOOP_EXT4_UUID" -b 4096 "${noc[@]}"
  bigq "$w" "$d/hive.qcow2" 8M

  r=$S/bombrpm; mkdir -p "$r"/{bin,etc,var/lib/rpm}
  echo 'CentOS Linux release 7.9.2009 (Core)' >"$r/etc/redhat-release"
  : >"$r/etc/fstab"
  "${HELP[@]}" bdb-bomb "$r/var/lib/rpm/Packages" $(((2 << 30) - 4096))
  fixtimes "$r"
  mkext ext4 8M "$w" "$r" "$LOOP_EXT4_UUID" bomb "$LOOP_EXT4_UUID" -b 4096 "${noc[@]}"
  bigq "$w" "$d/rpmdb.qcow2" 8M
  rm -f "$w"
}

# ------------------------------------------------------------------- main
for tool in mkfs.ext4 debugfs mkfs.vfat mcopy sgdisk sfdisk mkntfs ntfs-3g hivexregedit \
  qemu-img qemu-io mkfs.xfs xfs_db xfs_repair mkfs.btrfs genisoimage mkswap lvm cryptsetup mkfs.exfat python3; do
  command -v "$tool" >/dev/null || { echo "images/build.sh: $tool not found: run scripts/setup" >&2; exit 1; }
done
[ -n "$FAKETIME_LIB" ] || echo "images/build.sh: WARNING: libfaketime not found (package libfaketime): NTFS, ISO, xfs, btrfs and exfat times will be the build time" >&2

step() { # step FUNCTION: runs it, logging its time when GX_IMAGES_VERBOSE is set
  local t0; t0=$(date +%s%N)
  "$1"
  [ -z "${GX_IMAGES_VERBOSE:-}" ] || echo "images/build.sh: $1: $((($(date +%s%N) - t0) / 1000000)) ms" >&2
}
step build_linux
step build_bigtree
step build_windows
step build_lg_windows
step build_multi
step build_chain
step build_xfs
step build_probe
step build_damaged
step build_bombs

if ((${#SKIPPED[@]})); then printf '%s\n' "${SKIPPED[@]}" >"$T/SKIPPED"; fi

# Move into place: stamp removed first and written last.
rm -f "$OUT/.stamp" "$OUT/SKIPPED"
for f in "$T"/*; do
  name=$(basename "$f")
  if [ -d "$f" ] && [ -e "$OUT/$name" ]; then
    mv "$OUT/$name" "$T/.old-$name"
  fi
  mv -fT "$f" "$OUT/$name"
done
rm -rf "$T"/.old-* "$S"
echo "$KEY" >"$OUT/.stamp"
echo "images/build.sh: built test images in $OUT in $((($(date +%s%N) - START_NS) / 1000000)) ms" >&2
exec 9>&-
phony
