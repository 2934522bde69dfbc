#!/usr/bin/env bash
# Records what the real libguestfs tools print on the images from
# images/build.sh, as the expected outputs for gx-ls, gx-cat, gx-df and for
# probing. Run it again after changing images/build.sh (the images are
# deterministic, so unchanged images give unchanged files).
#
#   tests/expected/make-tools.sh            # everything (about 40-60 launches)
#   JOBS=3 tests/expected/make-tools.sh     # how many libguestfs runs at once (default 2)
#   ONLY='ls-*' tests/expected/make-tools.sh  # only outputs whose name matches the glob
#
# Writes:
#   tests/expected/tools/NAME        stdout of one command, byte for byte
#   tests/expected/tools/NAME.err    its stderr, only when non-empty
#   tests/expected/tools/NAME.sha256 instead of NAME for large binary output:
#                                    "SHA256  BYTES\n" of stdout
#   tests/expected/tools/COMMANDS    one line per output file:
#                                    NAME<TAB>EXIT-CODE<TAB>COMMAND LINE
#                                    (run in images/out, so image names are
#                                    relative, as the tools print them)
#   tests/expected/probe/IMAGE.txt   libguestfs's view of each image's devices,
#                                    format described in tests/expected/probe/README
#
# Commands run through ../shared/bin/peer (libguestfs with TCG); set PEER to
# another wrapper if needed. Outputs whose name ends in .faketime were made
# with the clock frozen at FAKE_NOW (below) for --time-relative/--time-days.
set -euo pipefail
shopt -s extglob  # ONLY may be an extended glob: ONLY='@(fs-*|*.faketime)'
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
JOBS=${JOBS:-2}
ONLY=${ONLY:-*}
tools=$here/tools
probe=$here/probe
mkdir -p "$tools" "$probe"

bash "$root/images/build.sh" "$root/images/out"
cd "$root/images/out"

start=$(date +%s)
frag=$(mktemp -d)
trap 'rm -rf "$frag"' EXIT
order=()

# cap NAME CMD...: run CMD, keep stdout in tools/NAME.
# capsha NAME CMD...: run CMD, keep the sha256 and length of stdout.
run_one() { # MODE NAME CMD...
  local mode=$1 name=$2; shift 2
  local out=$frag/$name.out err=$frag/$name.stderr rc=0
  local run=("$peer")
  if [ "$1" = faked ]; then shift; run=(faked "$peer"); fi
  "${run[@]}" "$@" >"$out" 2>"$err" || rc=$?
  if [ "$mode" = sha ]; then
    printf '%s  %s\n' "$(sha256sum <"$out" | cut -d' ' -f1)" "$(stat -c %s "$out")" >"$tools/$name.sha256"
    rm -f "$tools/$name"
  else
    mv "$out" "$tools/$name"
  fi
  if [ -s "$err" ]; then mv "$err" "$tools/$name.err"; else rm -f "$err" "$tools/$name.err"; fi
  local file=$name; [ "$mode" = sha ] && file=$name.sha256
  printf '%s\t%s\t%s\n' "$file" "$rc" "$*" >"$frag/$name.cmd"
  echo "make-tools: $file (exit $rc)" >&2
}
queue() { # MODE NAME CMD...
  order+=("$2")
  # shellcheck disable=SC2053
  [[ $2 == $ONLY ]] || return 0
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
  run_one "$@" &
}
cap() { queue text "$@"; }
capsha() { queue sha "$@"; }

L=(-a linux.qcow2 -m /dev/sda2)

# faked CMD...: CMD with its clock frozen at FAKE_NOW (libfaketime from
# scripts/setup), QEMU's left alone. tools/tests/peer_outputs.rs runs the
# names ending in .faketime under the same clock.
FAKE_NOW='2025-06-01 12:00:00'
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1 || true)
[ -n "$FAKETIME_LIB" ] || { echo "make-tools.sh: libfaketime missing: run scripts/setup" >&2; exit 1; }
faked() {
  LD_PRELOAD=$FAKETIME_LIB FAKETIME=$FAKE_NOW FAKETIME_DONT_FAKE_MONOTONIC=1 \
    FAKETIME_SKIP_CMDS=qemu-system-x86_64 "$@"
}

# --------------------------------------------------------------- virt-ls
cap ls-etc virt-ls "${L[@]}" /etc
cap ls-l-etc virt-ls "${L[@]}" -l /etc
cap ls-R-doc-many virt-ls "${L[@]}" -R /usr/share/doc-many
cap ls-lR-etc virt-ls "${L[@]}" -lR /etc
cap ls-lR-csv-etc virt-ls "${L[@]}" -lR --csv /etc
cap ls-lR-h-etc virt-ls "${L[@]}" -lR -h /etc
cap ls-lR-uids-times-etc virt-ls "${L[@]}" -lR --uids --times /etc
cap ls-lR-time-t-etc virt-ls "${L[@]}" -lR --time-t /etc
cap ls-lR-extra-stats-etc virt-ls "${L[@]}" -lR --extra-stats /etc
cap ls-lR-checksum-etc virt-ls "${L[@]}" -lR --checksum /etc
cap ls-lR-checksum-sha256-etc virt-ls "${L[@]}" -lR --checksum=sha256 /etc
cap ls-etc-bin virt-ls "${L[@]}" /etc /bin
cap ls-l-etc-usr-bin virt-ls "${L[@]}" -l /etc/testdir /usr/bin
cap ls-l-root virt-ls "${L[@]}" -l /
cap ls-lR-deep virt-ls "${L[@]}" -lR /usr/share/deep
cap ls-lR-csv-extra-stats-etc virt-ls "${L[@]}" -lR --csv --extra-stats --uids --time-t /etc
# The clock frozen at $FAKE_NOW (libfaketime) for the tool itself, not for
# QEMU: the test runs gx-ls under the same clock.
cap ls-lR-time-relative-etc.faketime faked virt-ls "${L[@]}" -lR --time-relative /etc
cap ls-lR-time-days-etc.faketime faked virt-ls "${L[@]}" -lR --time-days /etc
cap ls-lR-esp virt-ls -a linux.img -m /dev/sda1 -lR /
cap ls-lR-windows virt-ls -a windows.img -m /dev/sda1 -lR /Windows
cap ls-l-windows-root virt-ls -a windows.img -m /dev/sda1 -l /
cap ls-l-multi-fat16 virt-ls -a multi.img -m /dev/sda1 -l /
cap ls-l-multi-fat32 virt-ls -a multi.img -m /dev/sda2 -l /
cap ls-lR-multi-ext2 virt-ls -a multi.img -m /dev/sda5 -lR /
cap ls-lR-bigtree-d000 virt-ls -a bigtree.img -m /dev/sda -lR /d000
capsha ls-lR-bigtree virt-ls -a bigtree.img -m /dev/sda -lR /
cap ls-missing-dir virt-ls "${L[@]}" /nonexistent
X=(-a xfs.img -m /dev/sda)
cap ls-lR-xfs virt-ls "${X[@]}" -lR /links /devs /files /dirs/sf /xattr
cap ls-lR-extra-stats-xfs virt-ls "${X[@]}" -lR --extra-stats --uids --time-t /files /frag /deep
capsha ls-lR-xfs-dirs virt-ls "${X[@]}" -lR /dirs
cap ls-lR-xfs-v4 virt-ls -a xfs-v4.img -m /dev/sda -lR --extra-stats /links /devs /files
capsha ls-lR-bigtree-xfs virt-ls -a bigtree-xfs.img -m /dev/sda -lR /

# -------------------------------------------------------------- virt-cat
cap cat-hostname virt-cat "${L[@]}" /etc/hostname
cap cat-test3 virt-cat "${L[@]}" /etc/test3
cap cat-os-release-symlink virt-cat "${L[@]}" /etc/os-release
cap cat-two-files virt-cat "${L[@]}" /etc/hostname /etc/test3
capsha cat-blob virt-cat "${L[@]}" /usr/share/blob/random-4M.bin
capsha cat-sparse virt-cat "${L[@]}" /var/tmp/sparse.bin
cap cat-missing virt-cat "${L[@]}" /etc/nonexistent
cap cat-windows-autoexec virt-cat -a windows.img -m /dev/sda1 /autoexec.bat
capsha cat-xfs-frag virt-cat "${X[@]}" /frag/frag.bin
capsha cat-xfs-blob virt-cat "${X[@]}" /files/blob-4M.bin
cap cat-xfs-link virt-cat "${X[@]}" /links/short
cap cat-esp-long-name virt-cat -a linux.img -m /dev/sda1 '/A long file name.txt'

# ------------------------------------------------------ virt-filesystems
cap fs-linux virt-filesystems -a linux.qcow2
cap fs-all-long-linux virt-filesystems -a linux.qcow2 --all --long
cap fs-all-long-h-linux virt-filesystems -a linux.qcow2 --all --long -h
cap fs-all-long-uuid-multi virt-filesystems -a multi.img --all --long --uuid
cap fs-extra-long-multi virt-filesystems -a multi.img --extra --long
cap fs-parts-long-multi virt-filesystems -a multi.img --parts --long
cap fs-blkdevs-long-linux virt-filesystems -a linux.img --blkdevs --long
cap fs-long-csv-windows virt-filesystems -a windows.img --long --csv
cap fs-all-long-no-title-windows virt-filesystems -a windows.img --all --long --no-title
cap fs-all-long-two-disks virt-filesystems -a linux.img -a multi.img --all --long
cap fs-all-long-bigtree virt-filesystems -a bigtree.img --all --long --uuid

# --------------------------------------------------------------- virt-df
cap df-linux virt-df -a linux.qcow2
cap df-h-linux virt-df -a linux.qcow2 -h
cap df-i-linux virt-df -a linux.qcow2 -i
cap df-csv-linux virt-df -a linux.qcow2 --csv
cap df-csv-i-linux virt-df -a linux.qcow2 --csv -i
cap df-uuid-linux virt-df -a linux.qcow2 --uuid
cap df-multi virt-df -a multi.img
cap df-windows virt-df -a windows.img
cap df-two-disks virt-df -a linux.img -a multi.img
cap df-bigtree-i virt-df -a bigtree.img -i
cap df-xfs virt-df -a xfs.img
cap df-i-xfs virt-df -a xfs.img -i
cap df-xfs-v4 virt-df -a xfs-v4.img
cap df-probe-xfs virt-df -a probe/xfs.img
cap df-h-bigtree-xfs virt-df -a bigtree-xfs.img -h

wait

# ------------------------------------------------------------- probing
# One appliance launch per group of images (each attached read-only with its
# format given); the drives are sda, sdb, ... in the order given and every
# answer is renamed to /dev/sda* before being written to the image's file.
cat >"$frag/probe.pl" <<'PERL'
use strict;
use warnings;
use Sys::Guestfs;

# ARGV: OUTDIR then NAME:PATH:FORMAT ... (NAME names the output file; PATH
# is what is attached: usually NAME itself).
my $outdir = shift @ARGV;
my @imgs = map { [split /:/, $_, 3] } @ARGV;
my $g = Sys::Guestfs->new();
for (@imgs) {
  # FORMAT "raw-rw": attach without libguestfs's read-only overlay (on a
  # throw-away copy), see probe/luks1.img below.
  my ($fmt, $ro) = $_->[2] eq 'raw-rw' ? ('raw', 0) : ($_->[2], 1);
  $g->add_drive_opts($_->[1], readonly => $ro, format => $fmt);
}
$g->launch();

sub err { my $e = shift; $e =~ s/ at \S+ line \d+\.?\n?$//; $e =~ s/\n/ /g; return "ERROR: $e"; }
sub try { my ($f) = @_; my @r = eval { $f->() }; return $@ ? (err($@)) : @r; }
sub natural { my ($a, $b) = @_; my ($pa, $na) = $a =~ /^(.*?)(\d*)$/; my ($pb, $nb) = $b =~ /^(.*?)(\d*)$/;
  return $pa cmp $pb || ($na || 0) <=> ($nb || 0); }

# A call about all disks that fails must not be blamed on every image of a
# group: die, and make-tools.sh probes the group's images one by one.
my @devices = $g->list_devices();
my @partitions = try(sub { $g->list_partitions() });
my @fsl = try(sub { $g->list_filesystems() });
my $global_err = join(' ', grep { /^ERROR/ } @partitions, @fsl);
die "$global_err\n" if $global_err && @imgs > 1;
@partitions = () if grep { /^ERROR/ } @partitions;
my %fs = (grep { /^ERROR/ } @fsl) ? () : @fsl;
for my $i (0 .. $#imgs) {
  my $dev = $devices[$i];
  my $re = qr/^\Q$dev\E(\d*)$/;
  my $ren = sub { my $s = shift; $s =~ s{\Q$dev\E}{/dev/sda}g; return $s; };
  my @parts = grep { $_ =~ $re } @partitions;
  my @lines;
  push @lines, "device\t/dev/sda\t" . join("\t", try(sub { $g->blockdev_getsize64($dev) }));
  my ($pt) = try(sub { $g->part_get_parttype($dev) });
  push @lines, "parttype\t/dev/sda\t$pt";
  if ($pt !~ /^ERROR/) {
    for my $p (try(sub { $g->part_list($dev) })) {
      if (!ref $p) { push @lines, "part\t/dev/sda\t$p"; next; }
      my $n = $p->{part_num};
      my @extra;
      if ($pt eq 'gpt') {
        push @extra, "gpt-type=" . join('', try(sub { $g->part_get_gpt_type($dev, $n) }));
        push @extra, "gpt-guid=" . join('', try(sub { $g->part_get_gpt_guid($dev, $n) }));
        push @extra, "name=" . join('', try(sub { $g->part_get_name($dev, $n) }));
      } elsif ($pt eq 'msdos') {
        push @extra, sprintf("mbr-id=%s", join('', map { /^ERROR/ ? $_ : sprintf("%02x", $_) } try(sub { $g->part_get_mbr_id($dev, $n) })));
        push @extra, "bootable=" . join('', map { /^ERROR/ ? $_ : ($_ ? 'true' : 'false') } try(sub { $g->part_get_bootable($dev, $n) }));
      }
      push @lines, join("\t", "part", "/dev/sda", $n, $p->{part_start}, $p->{part_end}, $p->{part_size}, @extra);
    }
  }
  push @lines, "partition\t" . $ren->($_) for @parts;
  push @lines, map { "partitions\t$_" } grep { /^ERROR/ } @partitions;
  push @lines, map { "filesystems\t$_" } grep { /^ERROR/ } @fsl;
  for my $d (sort { natural($a, $b) } grep { $_ =~ $re } keys %fs) {
    push @lines, "filesystem\t" . $ren->($d) . "\t$fs{$d}";
  }
  for my $d ($dev, @parts) {
    my @v = map { join('', try(sub { my $m = "vfs_$_"; $g->$m($d) })) } qw(type label uuid);
    push @lines, join("\t", "vfs", $ren->($d), @v);
  }
  my $name = $imgs[$i][0];
  $name =~ s{^(probe|damaged)/}{$1-};
  open(my $fh, '>', "$outdir/$name.txt") or die "$outdir/$name.txt: $!";
  # Error messages name the appliance's own device nodes, which need not be
  # the names libguestfs reports: every disk name in them becomes /dev/sda.
  for (@lines) { $_ = $ren->($_); s{/dev/sd[a-z]+}{/dev/sda}g if /ERROR/; }
  print $fh "$_\n" for @lines;
  close $fh;
  print STDERR "make-tools: probe/$name.txt\n";
}
$g->shutdown();
$g->close();
PERL

probe_group() { # NAME IMAGE:FORMAT...
  local name=$1; shift
  # shellcheck disable=SC2053
  [[ probe-$name == $ONLY ]] || return 0
  local rc=0
  "$peer" perl "$frag/probe.pl" "$probe" "$@" 2>"$frag/probe-$name.err" || rc=$?
  if [ "$rc" != 0 ]; then
    cat "$frag/probe-$name.err" >&2
    if [ $# -gt 1 ]; then
      echo "make-tools: probe group $name failed; probing its images one at a time" >&2
      local one
      for one in "$@"; do probe_group "$name" "$one" || true; done
    else
      echo "make-tools: probe of $1 failed (exit $rc)" >&2
      local file=${1%%:*}
      file=${file/#probe\//probe-}
      file=${file/#damaged\//damaged-}
      printf 'launch\tERROR: %s\n' "$(grep -v '^ *$' "$frag/probe-$name.err" | tr '\n' ' ')" >"$probe/$file.txt"
    fi
  fi
}

probe_jobs=()
img() { echo "$1:$1:$2"; } # NAME:PATH:FORMAT with PATH = NAME
probe_group main $(img linux.img raw) $(img linux.qcow2 qcow2) $(img windows.img raw) \
  $(img multi.img raw) $(img bigtree.img raw) $(img compressed.qcow2 qcow2) \
  $(img chain-top.qcow2 qcow2) $(img damaged/loop-ext4.img raw) &
probe_jobs+=($!)
args=()
for f in probe/*; do
  [ "$f" = probe/luks1.img ] || args+=("$(img "$f" raw)")
done
probe_group probe "${args[@]}" &
probe_jobs+=($!)
wait "${probe_jobs[@]}"
# libguestfs 1.48 on QEMU 7.2 cannot attach a disk whose contents start with
# a LUKS1 header read-only: its overlay's -drive line names no format for the
# top layer, QEMU probes the guest data, picks its own luks driver and wants
# a key ("Parameter 'key-secret' is required for cipher"), whatever the
# image's container. So luks1.img is attached read-write, on a copy.
cp probe/luks1.img "$frag/luks1-copy.img"
probe_group luks1 "probe/luks1.img:$frag/luks1-copy.img:raw-rw"
probe_group damaged $(img damaged/bad-gpt-crc.img raw) $(img damaged/both-gpt-bad.img raw) \
  $(img damaged/past-end.img raw) $(img damaged/ebr-loop.img raw) \
  $(img damaged/truncated.qcow2 qcow2)

# COMMANDS, in the order above: lines of outputs not made this time (ONLY)
# are kept from the previous COMMANDS.
old_commands=$(cat "$tools/COMMANDS" 2>/dev/null || true)
{
  echo "# Made by tests/expected/make-tools.sh in images/out with libguestfs $("$peer" guestfish --version 2>/dev/null | awk '{print $2}')."
  echo "# NAME<TAB>EXIT-CODE<TAB>COMMAND LINE; NAME.err holds stderr where non-empty;"
  echo "# NAME.sha256 holds 'SHA256  BYTES' of stdout instead of stdout itself."
  echo "# Names ending in .faketime were made with the tool's clock frozen at $FAKE_NOW"
  echo "# (libfaketime). In 'virt-ls -l /' output the '..' line describes the appliance's"
  echo "# own directory (its link count and mtime change from run to run): compare"
  echo "# everything but that line."
  for n in "${order[@]}"; do
    if [ -f "$frag/$n.cmd" ]; then
      cat "$frag/$n.cmd"
    else
      printf '%s\n' "$old_commands" | awk -F'\t' -v n="$n" '$1 == n || $1 == n ".sha256"'
    fi
  done
} >"$tools/COMMANDS.new"
mv "$tools/COMMANDS.new" "$tools/COMMANDS"
echo "make-tools: done in $(($(date +%s) - start)) s" >&2
