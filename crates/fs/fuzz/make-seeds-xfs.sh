#!/bin/bash
# Build small XFS seed images (v5 and v4, 16 MiB with 1 KiB blocks) for
# fuzz_xfs into corpus/fuzz_xfs, trimmed of trailing zeros (the target reads
# past the input as zeros).
set -euo pipefail
cd "$(dirname "$0")"
out=corpus/fuzz_xfs
mkdir -p "$out"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
echo hello > "$src/hello"
head -c 5000 /dev/zero | tr '\0' x > "$src/five-k"
{
  echo seed; echo 0 0; echo d--755 0 0
  echo "hello ---644 0 0 $src/hello"
  echo "five-k ---600 5 6 $src/five-k"
  echo "short l--777 0 0 hello"
  echo "null c--644 0 0 1 3"
  echo "fifo p--644 0 0"
  echo "block d--755 0 0"
  for i in $(seq 1 30); do echo "entry-with-a-longer-name-$i ---644 0 0 $src/hello"; done
  echo '$'
  echo "leaf d--755 0 0"
  for i in $(seq 1 120); do echo "leaf-entry-with-a-much-longer-name-$i ---644 0 0 $src/hello"; done
  echo '$'
  echo "attrs d--755 0 0"
  echo '$'
  echo '$'
} > "$src/proto"
n=0
for opts in "-m crc=1,rmapbt=0,reflink=0" "-m crc=0"; do
  n=$((n+1))
  img=$src/seed$n
  truncate -s 16M "$img"
  # shellcheck disable=SC2086
  TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f -b size=1024 -d agcount=1 $opts -p "$src/proto" "$img"
  ino=$(xfs_db -r -c "path /attrs" -c "inode" "$img" | awk '{print $5}')
  cmds=(-c "inode $ino" -c "attr_set -u -v 10 small" -c "attr_set -s -v 20 selinux")
  for i in $(seq 1 30); do cmds+=(-c "attr_set -u -v 40 attribute-$i"); done
  xfs_db -x "${cmds[@]}" "$img" >/dev/null
  python3 -c '
import sys
d = open(sys.argv[1], "rb").read().rstrip(b"\0")
open(sys.argv[2], "wb").write(d)' "$img" "$out/seed$n"
done
ls -l "$out"
