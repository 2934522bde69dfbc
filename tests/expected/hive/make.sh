#!/usr/bin/env bash
# Regenerates the expected outputs that crates/hive/tests compare against,
# with hivex itself as the oracle (hivex 1.3.23 from Debian 12 made the
# committed files).
#
#   bash tests/expected/hive/make.sh
#
# Needs: hivexregedit and the Win::Hivex perl module (Debian package
# libwin-hivex-perl, installed by scripts/setup). For the single-value
# outputs (what `virt-win-reg IMAGE KEY VALUE` prints, via hivexget) it also
# needs hivexsh (package libhivex-bin); set HIVEXSH=/path/to/hivexsh if it is
# not on PATH. Without hivexsh those files are left as they are.
#
# Hives covered: the three real hives in ../shared/test-data/hives (from the
# hivex project; copied here as NAME.hive), and hives built here with `hivexregedit --merge` on a copy of `minimal`:
#   alltypes.hive          <- alltypes.reg (every value type and edge case)
#   windows-software.hive  <- libguestfs-phony/windows-software.reg
#   windows-system.hive    <- libguestfs-phony/windows-system.reg
# The built hives are committed too, so the tests need neither perl nor hivex.
#
# For each hive H, H/keys.txt lists "INDEX<TAB>PATH" for every key (in export
# order), H/INDEX.reg is `hivexregedit --export H PATH` and H/INDEX.prefix.reg
# is the same with --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE'; H/ups.reg is the
# root with --unsafe-printable-strings, H/depth2.reg with --max-depth 2.
# H/values.txt lists
# "INDEX<TAB>PATH<TAB>NAME" and H/INDEX.val is hivexget's output for it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
data=${GX_TEST_DATA:-$root/../shared/test-data}
hives=$data/hives
phony=$data/libguestfs-phony
hivexsh=${HIVEXSH:-$(command -v hivexsh || true)}
prefix='HKEY_LOCAL_MACHINE\SOFTWARE'

command -v hivexregedit >/dev/null || { echo "make.sh: hivexregedit not found (apt-get install libwin-hivex-perl)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() { # build OUT.hive REGFILE [PREFIX]
    cp "$hives/minimal" "$tmp/new.hive"
    chmod u+w "$tmp/new.hive"
    if [ -n "${3:-}" ]; then
        hivexregedit --merge --prefix "$3" "$tmp/new.hive" "$2"
    else
        hivexregedit --merge "$tmp/new.hive" "$2"
    fi
    cp "$tmp/new.hive" "$1"
}
# A value larger than one big-data segment (16344 bytes), generated here to
# keep alltypes.reg readable.
{ cat "$here/alltypes.reg"; printf '\n[\\Big]\n"big"=hex(3):'
  perl -e 'print join(",", map { sprintf "%02x", $_ % 251 } 0..16999), "\n"'; } > "$tmp/alltypes.reg"
build "$here/alltypes.hive" "$tmp/alltypes.reg"
build "$here/windows-software.hive" "$phony/windows-software.reg" 'HKEY_LOCAL_MACHINE\SOFTWARE'
build "$here/windows-system.hive" "$phony/windows-system.reg" 'HKEY_LOCAL_MACHINE\SYSTEM'

# Lists keys and values in export order. Names go to argv, which cannot hold
# NUL: a component is cut at its first NUL, and hivex then matches the key by
# that C-string prefix, as it would for a user.
list() {
    perl -MWin::Hivex -MEncode=encode_utf8 -e '
        my ($file, $mode) = @ARGV;
        my $h = Win::Hivex->open($file);
        my ($k, $v) = (0, 0);
        sub cut { my $s = shift; $s =~ s/\x00.*//s; encode_utf8($s) }
        sub walk {
            my ($node, $path) = @_;
            my $p = $path eq "" ? "\\" : $path;
            if ($mode eq "keys") { print $k++, "\t$p\n" }
            else {
                for my $val ($h->node_values($node)) {
                    my $name = $h->value_key($val);
                    next if $name =~ /^\s|\s$|\t|\n/;
                    $name = "@" if $name eq "";
                    print $v++, "\t$p\t", cut($name), "\n";
                }
            }
            for my $c (sort { $h->node_name($a) cmp $h->node_name($b) } $h->node_children($node)) {
                walk($c, $path . "\\" . cut($h->node_name($c)));
            }
        }
        walk($h->root(), "");
    ' "$1" "$2"
}

# The real hives are copied in, so that a checkout alone runs the tests.
for h in minimal special rlenvalue_test_hive; do
    cp "$hives/$h" "$here/$h.hive"
    chmod 644 "$here/$h.hive"
done

for hive in "$here"/*.hive; do
    name=$(basename "$hive" .hive)
    out=$here/$name
    mkdir -p "$out"
    rm -f "$out"/*.reg "$out"/keys.txt
    list "$hive" keys > "$out/keys.txt"
    while IFS=$'\t' read -r i path; do
        hivexregedit --export "$hive" "$path" > "$out/$i.reg" 2>/dev/null
        hivexregedit --export --prefix "$prefix" "$hive" "$path" > "$out/$i.prefix.reg" 2>/dev/null
    done < "$out/keys.txt"
    hivexregedit --export --unsafe-printable-strings "$hive" '\' > "$out/ups.reg" 2>/dev/null
    hivexregedit --export --max-depth 2 "$hive" '\' > "$out/depth2.reg"
    if [ -n "$hivexsh" ]; then
        rm -f "$out"/*.val "$out"/values.txt
        list "$hive" values > "$out/values.txt"
        while IFS=$'\t' read -r i path vname; do
            # What hivexget does, without its shell quoting of the path.
            printf 'load %s\ncd %s\nlsval %s\nexit\n' "$hive" "$path" "$vname" \
                | "$hivexsh" > "$out/$i.val" 2>/dev/null \
                || { echo "make.sh: $name: hivexsh failed on $path $vname" >&2; rm -f "$out/$i.val"; }
        done < "$out/values.txt"
    fi
done
echo "make.sh: expected files written under $here" >&2
