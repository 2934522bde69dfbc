#!/usr/bin/env bash
# tests/expected/resize/sources.sh IMAGES OUTDIR: makes the gx-resize test
# inputs that images/build.sh does not build, from its images, with host tools
# only (deterministic: fixed times, so make.sh's peer outputs stay valid):
#   linux-shrunk.img  linux.img whose /dev/sda2 ext4 was shrunk to 24 MiB by
#                     the host's resize2fs (the partition stays 40 MiB), the
#                     input of a --shrink
#   chain-top.qcow2   qcow2 whose backing file is chain-base.qcow2 (qcow2 of
#                     linux.img, named by a relative path), with 4 KiB of
#                     0xc3 written into the top at byte 20480 (the gap between
#                     the GPT and /dev/sda1, which the boot loader copy carries)
set -euo pipefail
img=$1; out=$2
mkdir -p "$out"
export E2FSPROGS_FAKE_TIME=1704164645 SOURCE_DATE_EPOCH=1704164645
if [ ! -e "$out/linux-shrunk.img" ]; then
  t=$out/.shrunk.$$
  cp --sparse=always "$img/linux.img" "$t.img"
  dd if="$t.img" of="$t.p2" bs=512 skip=34816 count=81920 status=none
  e2fsck -fy "$t.p2" >/dev/null 2>&1 || true
  resize2fs "$t.p2" 24M >/dev/null 2>&1
  dd if="$t.p2" of="$t.img" bs=512 seek=34816 conv=notrunc,sparse status=none
  rm -f "$t.p2"; mv "$t.img" "$out/linux-shrunk.img"
fi
if [ ! -e "$out/chain-top.qcow2" ]; then
  rm -f "$out/chain-base.qcow2"
  qemu-img convert -m 1 -f raw -O qcow2 "$img/linux.img" "$out/chain-base.qcow2"
  (cd "$out" && qemu-img create -q -f qcow2 -b chain-base.qcow2 -F qcow2 .top.qcow2 >/dev/null &&
    qemu-io -f qcow2 -c 'write -P 0xc3 20480 4096' .top.qcow2 >/dev/null && mv .top.qcow2 chain-top.qcow2)
fi
if [ ! -e "$out/fs-mix.img" ]; then
  t=$out/.mix.$$; rm -rf "$t"; mkdir -p "$t/tree/data"
  echo "hello from btrfs" >"$t/tree/hello.txt"
  seq 1 100000 >"$t/tree/data/blob"
  truncate -s 176M "$t.img"
  sgdisk -o -U 4D495800-0000-4000-8000-000000000001 \
    -n 1:2048:+112M -t 1:8300 -c 1:btrfs -u 1:4D495800-0000-4000-8000-0000000000B1 \
    -n 2:0:+16M -t 2:8200 -c 2:swap -u 2:4D495800-0000-4000-8000-0000000000B2 \
    -n 3:0:+32M -t 3:8300 -c 3:xfs -u 3:4D495800-0000-4000-8000-0000000000B3 "$t.img" >/dev/null
  truncate -s 112M "$t.p1"
  mkfs.btrfs -q -r "$t/tree" -L btrfsvol "$t.p1" >/dev/null
  truncate -s 16M "$t.p2"; mkswap -q -U 5a5a0000-0000-4000-8000-000000000002 -L swapvol "$t.p2" >/dev/null
  echo "hello from xfs" >"$t/xfs-hello"
  printf 'gx\n0 0\nd--755 0 0\nhello.txt ---644 0 0 %s\n$\n' "$t/xfs-hello" >"$t/proto"
  truncate -s 32M "$t.p3"
  TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f -L xfsvol \
    -m uuid=0f5f0000-0000-4000-8000-000000000003 -p "$t/proto" "$t.p3" >/dev/null
  dd if="$t.p1" of="$t.img" bs=512 seek=2048 conv=notrunc,sparse status=none
  dd if="$t.p2" of="$t.img" bs=512 seek=231424 conv=notrunc,sparse status=none
  dd if="$t.p3" of="$t.img" bs=512 seek=264192 conv=notrunc,sparse status=none
  rm -rf "$t" "$t.p1" "$t.p2" "$t.p3" "$t/proto"; mv "$t.img" "$out/fs-mix.img"
fi
