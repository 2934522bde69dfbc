#!/usr/bin/env bash
# Records what libguestfs (the peer) reports for filesystem probing on the test
# images, so crates/disk/tests/probe.rs can hold our probe to the same answers.
#
#   tests/expected/probe-peer/make.sh [IMAGES_DIR]      (default: images/out)
#
# For every file in probe/ (one filesystem on the whole device) it asks about
# /dev/sda; for linux.img, windows.img and multi.img it asks about /dev/sda and
# every partition that `list-partitions` names. Each question is libguestfs's
# `vfs-type DEV`, `vfs-label DEV`, `vfs-uuid DEV`.
#
# Output: one file per image next to this script, named after the image
# without its extension (`linux.img` -> `linux.txt`, `probe/xfs.img` ->
# `probe-xfs.txt`, `probe/iso9660.iso` -> `probe-iso9660.txt`), one line per
# device:
#
#   DEVICE<TAB>TYPE<TAB>LABEL<TAB>UUID
#
# with libguestfs's values verbatim (an empty field where it prints an empty
# string: a partition without a filesystem, a partitioned whole disk). Where a
# call fails, the field holds `ERROR: ` and libguestfs's message. Lines
# starting with `#` are comments. Labels with tabs or newlines cannot be
# written in this format; the test images have none.
#
# Needs libguestfs (installed on first use by ../shared/bin/peer, or set PEER
# to a command that runs guestfish with working settings). Each image costs
# one or two appliance launches (about 7-15 s each under TCG).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
images=${1:-$root/images/out}
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer

guestfish() { "$peer" guestfish "$@"; }

# libguestfs's --ro overlay lets QEMU probe the format above it, and QEMU 7.2
# takes a whole-device LUKS1 image for its own encrypted format and refuses to
# start. So each image is asked about through a scratch copy opened
# read-write with format=raw stated; the calls made here only read.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
copy_of() { # IMG -> path of a scratch copy
  local c=$scratch/$(basename "$1")
  cp --sparse=always "$1" "$c"
  echo "$c"
}

# Ask about each device in one launch. Every answer is fenced by markers so
# an empty answer or an error message cannot shift the others.
probe_devices() { # IMG DEV...
  local img=$1; shift
  local script="run"$'\n'
  local dev what
  for dev in "$@"; do
    for what in type label uuid; do
      # A leading '-' lets guestfish go on after an error.
      script+="echo @@begin"$'\n'"-vfs-$what $dev"$'\n'"echo @@end"$'\n'
    done
  done
  guestfish --format=raw -a "$img" <<<"$script" 2>&1 | awk -v devs="$*" '
    BEGIN { n = split(devs, d, " "); i = 0 }
    $0 == "@@begin" { val = ""; inside = 1; next }
    $0 == "@@end" {
      dev = d[int(i / 3) + 1]
      if (i % 3 == 0) line = dev
      line = line "\t" val
      if (i % 3 == 2) print line
      i++; inside = 0; next
    }
    inside {
      sub(/^libguestfs: error: /, "ERROR: ")
      val = (val == "" ? $0 : val " " $0)
    }
    END { if (i != 3 * n) { print "make.sh: expected " 3 * n " answers, got " i > "/dev/stderr"; exit 1 } }'
}

record() { # IMG OUT [partitioned]
  local img=$1 out=$2 devs=(/dev/sda) copy
  copy=$(copy_of "$img")
  if [ "${3:-}" = partitioned ]; then
    mapfile -t parts < <(guestfish --format=raw -a "$copy" run : list-partitions)
    devs+=("${parts[@]}")
  fi
  {
    echo "# libguestfs vfs-type/vfs-label/vfs-uuid on $(basename "$img"), made by make.sh"
    probe_devices "$copy" "${devs[@]}"
  } >"$out.tmp"
  mv "$out.tmp" "$out"
  rm -f "$copy"
  echo "wrote $out" >&2
}

shopt -s nullglob
for img in "$images"/probe/*; do
  [ -f "$img" ] || continue
  name=$(basename "$img"); name=${name%.*}
  record "$img" "$here/probe-$name.txt"
done
for name in linux windows multi; do
  [ -e "$images/$name.img" ] || { echo "make.sh: $images/$name.img is missing" >&2; exit 1; }
  record "$images/$name.img" "$here/$name.txt" partitioned
done
