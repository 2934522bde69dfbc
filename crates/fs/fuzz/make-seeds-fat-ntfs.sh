#!/bin/bash
# Build small FAT and NTFS seed images for fuzz_fat and fuzz_ntfs into corpus/.
set -euo pipefail
cd "$(dirname "$0")"
src=$(mktemp -d)
trap 'umount "$src/mnt" 2>/dev/null || true; rm -rf "$src"' EXIT
mkdir -p "$src/t/Dir/sub" "$src/mnt"
echo hello > "$src/t/hello.txt"
echo long > "$src/t/A long file name.txt"
head -c 3000 /dev/zero | tr '\0' x > "$src/t/Dir/sub/three-k.bin"
for i in $(seq 1 20); do echo $i > "$src/t/Dir/entry with a long name $i"; done
mkdir -p corpus/fuzz_fat corpus/fuzz_ntfs
for bits in 12 16; do
  f=corpus/fuzz_fat/seed$bits
  rm -f "$f"
  if [ $bits = 12 ]; then truncate -s 64K "$f"; else truncate -s 2200K "$f"; fi
  mkfs.vfat -F $bits -s 1 -S 512 -i 12345678 "$f" >/dev/null
  mcopy -s -m -i "$f" "$src"/t/* ::/
done
f=corpus/fuzz_fat/seed32
rm -f "$f"; truncate -s 33M "$f"
mkfs.vfat -F 32 -s 1 -i 12345678 "$f" >/dev/null
mcopy -s -m -i "$f" "$src"/t/* ::/
# A 33 MiB FAT32 seed is mostly zeros; keep only what the tree uses.
truncate -s 2M "$f"
f=corpus/fuzz_ntfs/seed1
rm -f "$f"; truncate -s 1100K "$f"
mkntfs -F -f -q -c 512 -s 512 "$f" >/dev/null 2>&1
ntfs-3g "$f" "$src/mnt"
cp -r "$src"/t/* "$src/mnt/"
ln -s hello.txt "$src/mnt/link"
umount "$src/mnt"
ls -l corpus/fuzz_fat corpus/fuzz_ntfs
