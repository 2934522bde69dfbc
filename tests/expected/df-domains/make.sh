#!/usr/bin/env bash
# Records what virt-df prints with no -a or -d (every domain of a libvirt
# test-driver file, by name): the expected outputs of
# tools/tests/df_domains.rs. guests.xml.in is libguestfs's phony-guest list
# in small (no disks, a missing disk, our builds of the phony Fedora and
# Debian); @IMAGES@ becomes the images directory. Stdout and the exit code
# are kept (NAME, NAME.rc); libguestfs's stderr messages are not compared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
peer=${PEER:-/work/shared/bin/peer}
bash "$root/images/build.sh" "$root/images/out" >/dev/null
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sed "s|@IMAGES@|$root/images/out|g" "$here/guests.xml.in" >"$t/guests.xml"
cap() { # NAME ARGS...
  local name=$1 rc=0; shift
  "$peer" virt-df -c "test://$t/guests.xml" "$@" >"$here/$name" || rc=$?
  echo "$rc" >"$here/$name.rc"
}
cap df-guests
cap df-guests-uuid-csv --uuid --csv
