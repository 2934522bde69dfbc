#!/usr/bin/env bash
# Regenerates the expected results of crates/hive/tests/merge.rs with hivex
# itself as the oracle (hivex 1.3.23 from Debian 12 made the committed files):
#
#   bash tests/expected/hive-merge/make.sh
#
# stepN.reg are the five merge/delete steps of hivex's own import test
# (perl/t/560-regedit-import.t), applied one after the other to a copy of
# the `minimal` hive; stepN.expected is `hivexregedit --export HIVE '\'`
# after step N. bad-*.reg are inputs that must not merge (hivex's
# 570-regedit-import2.t and a few more); bad.expected lists, for each,
# whether hivexregedit --merge refused it ("refused") or accepted it
# ("accepted": inputs where hivex stores garbage and we refuse instead).
# Needs hivexregedit (Debian package libwin-hivex-perl).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
hives=${GX_TEST_DATA:-$root/../shared/test-data}/hives
[ -d "$hives" ] || hives=/work/shared/test-data/hives
command -v hivexregedit >/dev/null || { echo "make.sh: hivexregedit not found (apt-get install libwin-hivex-perl)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp "$hives/minimal" "$tmp/h"; chmod u+w "$tmp/h"
for n in 1 2 3 4 5; do
    hivexregedit --merge "$tmp/h" "$here/step$n.reg"
    hivexregedit --export "$tmp/h" '\' > "$here/step$n.expected"
done

: > "$here/bad.expected"
for f in "$here"/bad-*.reg; do
    cp "$hives/minimal" "$tmp/b"; chmod u+w "$tmp/b"
    if hivexregedit --merge "$tmp/b" "$f" 2>/dev/null; then r=accepted; else r=refused; fi
    printf '%s\t%s\n' "$(basename "$f")" "$r" >> "$here/bad.expected"
done
