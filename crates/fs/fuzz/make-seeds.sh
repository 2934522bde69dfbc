#!/bin/bash
# Build small ext2/3/4 seed images for the fuzz targets into corpus/.
set -euo pipefail
cd "$(dirname "$0")"
out=corpus/fuzz_ext4
mkdir -p "$out"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
echo hello > "$src/hello"
mkdir -p "$src/d/e"
head -c 5000 /dev/zero | tr '\0' x > "$src/d/e/five-k"
for i in $(seq 1 60); do echo $i > "$src/d/file-with-a-longer-name-$i"; done
ln -s hello "$src/fast"
ln -s "$(printf 'long/%.0s' $(seq 1 20))target" "$src/slow"
ln "$src/hello" "$src/hard"
mkfifo "$src/fifo"
truncate -s 100000 "$src/sparse"
n=0
for opts in "-t ext4 -O ^has_journal,^resize_inode" "-t ext4 -O ^has_journal,^resize_inode,^metadata_csum" \
    "-t ext2 -O ^resize_inode" "-t ext4 -O ^has_journal,^resize_inode,64bit,^flex_bg"; do
  n=$((n+1))
  rm -f "$out/seed$n"
  truncate -s 160K "$out/seed$n"
  # shellcheck disable=SC2086
  mke2fs -q -F -b 1024 -N 96 -I 256 $opts -E root_owner=0:0 -U clear -d "$src" "$out/seed$n"
done
ls -l "$out"
