#!/usr/bin/env bash
# tests/expected/inspector/make.sh [IMAGE...]: regenerate the expected
# gx-inspector output with libguestfs's virt-inspector (the peer), one
# IMAGE.xml per image of images/out. The exact command, per image:
#
#   LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
#     virt-inspector [ARGS] -a images/out/IMAGE > tests/expected/inspector/IMAGE.xml
#
# where ARGS is the image's line in ./ARGS (if any).
# (../shared/bin/peer sets those variables and installs libguestfs once.)
# Run images/build.sh and images/phony.sh first. NTFS volume serials are
# fixed by images/build.sh, but tests still ignore <uuid> lines of NTFS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PEER=${PEER:-$ROOT/../shared/bin/peer}
[ -x "$PEER" ] || PEER=/work/shared/bin/peer
IMAGES=("$@")
if [ ${#IMAGES[@]} -eq 0 ]; then
  IMAGES=(linux.img windows.img phony-ubuntu.img phony-fedora.img phony-centos.img
          phony-rocky.img phony-opensuse.img phony-archlinux.img phony-alpine.img
          phony-gentoo.img phony-debian.img)
fi
for img in "${IMAGES[@]}"; do
  args=$(awk -F'\t' -v i="$img" '$1 == i { print $2 }' "$HERE/ARGS")
  echo "virt-inspector $args -a images/out/$img" >&2
  # shellcheck disable=SC2086
  "$PEER" virt-inspector $args -a "$ROOT/images/out/$img" >"$HERE/$img.xml.tmp"
  mv "$HERE/$img.xml.tmp" "$HERE/$img.xml"
done
