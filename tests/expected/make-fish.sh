#!/usr/bin/env bash
# Records what the real guestfish prints for shell cases that need no
# appliance (grammar, quoting and escapes, !cmd, <!cmd, pipes, -cmd,
# command-line mode, options, argument parsing of each kind, the shell's
# own commands' errors), as the expected outputs of gx-fish
# (tools/tests/fish_peer.rs runs every case with gx-fish).
#
#   tests/expected/make-fish.sh             # all cases (about 5 s)
#   ONLY='escape*' tests/expected/make-fish.sh
#
# Writes, for each case NAME:
#   tests/expected/fish/NAME.args  the command-line arguments (shell words)
#   tests/expected/fish/NAME.in    what was on standard input (if anything)
#   tests/expected/fish/NAME.out   stdout, byte for byte
#   tests/expected/fish/NAME.err   stderr (only when non-empty)
#   tests/expected/fish/NAME.rc    the exit status
# Each case runs in an empty temporary directory with HOME=/gx-fish-home.
# guestfish runs through ../shared/bin/peer (set PEER to another wrapper).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peer=${PEER:-$root/../shared/bin/peer}
[ -x "$peer" ] || peer=/work/shared/bin/peer
ONLY=${ONLY:-*}
out=$here/fish
mkdir -p "$out"

# case NAME 'ARGS' [< stdin]: record one case; stdin comes from the here
# document that follows (or nothing).
export IMAGES=$root/images/out
case_() {
  local name=$1 args=$2
  # shellcheck disable=SC2053
  [[ $name == $ONLY ]] || { cat >/dev/null; return 0; }
  local dir rc=0
  dir=$(mktemp -d)
  cat >"$dir/stdin"
  printf '%s\n' "$args" >"$out/$name.args"
  if [ -s "$dir/stdin" ]; then cp "$dir/stdin" "$out/$name.in"; else rm -f "$out/$name.in"; fi
  (cd "$dir" && HOME=/gx-fish-home eval "\"$peer\" guestfish $args" <stdin >stdout 2>stderr) || rc=$?
  mv "$dir/stdout" "$out/$name.out"
  if [ -s "$dir/stderr" ]; then mv "$dir/stderr" "$out/$name.err"; else rm -f "$out/$name.err"; fi
  echo "$rc" >"$out/$name.rc"
  rm -rf "$dir"
  echo "make-fish: $name (exit $rc)" >&2
}

# --- the grammar: quoting, escapes, comments, blank lines
case_ escapes '' <<'EOF'
echo ""
echo " "
echo "  "
echo "\n"
echo "\r"
echo "\n\n"
echo "\x01"
echo "\001"
echo "\100"
echo "\a\b\f\t\v\"\\\'\?"
echo "\xff\xFe\377"
-echo "\x00"
-echo "\000"
-echo "\x"
-echo "\x0"
-echo "\7"
-echo "\77"
-echo "\777"
-echo "\q"
-echo "ab\n\q"
-echo "\"
-echo "\\\"
-echo "
-echo """
EOF
case_ quoting '' <<'EOF'
# a comment
   # an indented comment

echo a  b	c
echo 'a b' "c d" ''
echo a"b c'd
-echo 'it''s'
-echo 'a'b
-echo "a"b
-echo 'unterminated
echo '\n' "\"quoted\""
echo #not-a-comment
ECHO upper case
Echo mixed
echo	tab-separated
EOF
case_ quote-error-exits '' <<'EOF'
echo before
echo "unterminated
echo never
EOF
case_ too-many-args '' <<'EOF'
echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
-echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64
echo end
EOF
case_ tilde '' <<'EOF'
echo ~
echo ~/foo
echo ~root
echo ~root/foo
echo ~nosuchuser_gx/foo
echo "~" '~' x~
EOF

# --- local commands, inline execution, pipes
case_ local-commands '' <<'EOF'
!echo hello from sh
<!echo echo inline one; echo echo inline two
echo hello | tr a-z A-Z
echo "|" |cat
echo a|b
-!false
- !exit 3
echo still here
!false
echo never
EOF
case_ inline-failure '' <<'EOF'
<!echo echo before; false
echo never
EOF
case_ inline-errors '' <<'EOF'
<!echo -nosuch-command; echo echo after
<!printf 'nosuch-command\necho never\n'
echo never
EOF

# --- errors and exit on error
case_ unknown-first '' <<'EOF'
nosuch-command
EOF
case_ unknown-later '' <<'EOF'
echo first
-nosuch-command
nosuch-command
EOF
case_ cmdline-unknown 'nosuch-command : echo never' </dev/null
case_ cmdline 'echo a "b c" : echo d :  echo : -nosuch : echo e' </dev/null
case_ cmdline-empty ': echo d' </dev/null
case_ cmdline-trailing-colon 'echo a :' </dev/null
case_ cmdline-dash '-- -nosuch : echo d' </dev/null
case_ cmdline-words-verbatim "echo '~' '\"x\"' '#' '|' '\\n'" </dev/null
case_ cmdline-quit 'echo a : quit : echo b' </dev/null
case_ script-quit '' <<'EOF'
echo a
quit
echo b
EOF
case_ exit-q '' <<'EOF'
echo a
Q
echo b
EOF
case_ wrong-args '' <<'EOF'
-run foo
-launch x y
-mount
-mount /dev/sda1
-add-drive
-echo-daemon
-set-memsize
-set-memsize 1 2
EOF
case_ not-launched '' <<'EOF'
-mkdir /foo
-list-devices
-mount /dev/sda1 /
-write /a b
-upload -<<END /foo
body line 1
body line 2
END
echo after heredoc
-upload -<< /foo
EOF
case_ heredoc-eof '' <<'EOF'
upload -<<END /foo
never ended
EOF

# --- argument parsing by kind
case_ ints '' <<'EOF'
set-memsize 400
get-memsize
-set-memsize 0
-set-memsize 100
-set-memsize -500
-set-memsize 0x10
-set-memsize 010
-set-memsize -1073741824
-set-memsize abc
-set-memsize 12x
-set-memsize 1.5
-set-memsize ""
-set-memsize 99999999999
-set-memsize 99999999999999999999
-set-memsize 2G
-set-memsize 1k
-set-memsize 0x
set-memsize 1K
get-memsize
set-memsize 1KiB
get-memsize
-set-memsize 1KB
get-memsize
set-memsize 0x200
get-memsize
set-memsize 01000
get-memsize
set-smp 2
-set-smp 0
-set-smp 300
-set-smp -2
get-smp
EOF
case_ bools '' <<'EOF'
set-verbose false
get-verbose
set-trace off
get-trace
set-autosync yes
get-autosync
set-autosync 0
get-autosync
set-autosync Y
get-autosync
set-autosync ON
get-autosync
set-autosync T
get-autosync
-set-autosync maybe
-set-autosync ""
-set-autosync 2
get-autosync
EOF
case_ strings '' <<'EOF'
set-backend direct
get-backend
-set-backend backend-which-does-not-exist
get-backend
get-append
set-append "console=ttyS0 quiet"
get-append
set-program fishy
get-program
EOF
case_ optargs '' <<'EOF'
-add-drive /dev/null foo:bar
-add-drive /dev/null readonly:true readonly:false
-add-drive /dev/null readonly:maybe
-add-drive /dev/null format:raw format:raw
-add-drive /dev/null blocksize:abc
-add-drive /dev/null readonly
-add-drive /dev/null :
EOF
case_ optargs-ok '' <<'EOF'
add-drive /dev/null readonly:true format:raw
add /dev/null
add-ro /dev/null
add-drive-ro /dev/null
add-drive-opts /dev/null readonly:false
echo done
EOF

# --- the shell's own commands
case_ help-errors '' <<'EOF'
help
-help nosuch-command
-help a b
EOF
case_ builtin-usage '' <<'EOF'
-alloc
-alloc x.img
-sparse
-alloc x.img abc
-alloc x.img -1
-sparse x.img 12x
-copy-in
-copy-in a
-copy-out a
-display
-edit
-vi
-emacs a b
-glob
-hexedit
-lcd
-lcd /nonexistent-dir-gx
-man x
-more
-less a b
-reopen x
-setenv
-setenv A
-unsetenv
-time
echo end
EOF
case_ sparse-alloc '' <<'EOF'
sparse disk1.img 1M
alloc disk2.img 64k
!ls -ls disk1.img disk2.img | awk '{ if ($1 > 0) print "allocated", $6, $NF; else print "sparse", $6, $NF }'
EOF
case_ setenv '' <<'EOF'
setenv GX_FISH_TEST "a value"
!echo "[$GX_FISH_TEST]"
unsetenv GX_FISH_TEST
!echo "[${GX_FISH_TEST-unset}]"
setenv HOME /elsewhere
echo ~/x
EOF
case_ lcd '' <<'EOF'
lcd /
!pwd
lcd /tmp
!pwd
EOF
case_ time '' <<'EOF'
time echo timed
-time nosuch-command
echo end
EOF
case_ glob-not-launched '' <<'EOF'
glob echo a b
-glob echo /a*
glob echo /dev/sd* x
EOF
case_ win-paths '' <<'EOF'
-cat win:c:\\foo
-ll win:\\
EOF

# --- options
case_ opt-invalid '-z' </dev/null
case_ opt-unknown '--bogus-option' </dev/null
case_ opt-missing-arg '-a' </dev/null
case_ opt-missing-arg-long '--add' </dev/null
case_ opt-no-arg-allowed '--ro=yes' </dev/null
case_ opt-ro-rw '--ro --rw' </dev/null
case_ opt-rw-ro '--rw --ro echo ok' </dev/null
case_ opt-format-unconsumed '-a /dev/null --format=raw' </dev/null
case_ opt-format-alone '--format echo x' </dev/null
case_ opt-access '-a /nonexistent-gx.img' </dev/null
case_ opt-two-f '-f a -f b' </dev/null
case_ opt-f-missing '-f /nonexistent-gx-script' </dev/null
case_ opt-N-unknown '-N nosuch' </dev/null
case_ opt-N-help '-N help' </dev/null
case_ opt-remote-nan '--remote=abc echo x' </dev/null
case_ opt-listen-remote '--listen --remote=1' </dev/null
case_ opt-listen-extra '--listen echo x' </dev/null
case_ opt-abbrev '--no-progress-b --pipe echo ok' </dev/null
case_ opt-ambiguous '--no echo x' </dev/null
case_ opt-ambiguous-n '--n echo x' </dev/null
case_ opt-ambiguous-k '--k x' </dev/null
case_ opt-cluster '-rn echo ok' </dev/null
case_ opt-selinux '--selinux --progress-bars echo ok' </dev/null
case_ opt-live '--live' </dev/null
case_ opt-stdin-script '-a /dev/null' <<'EOF'
echo from stdin
EOF

# --- each return kind printed, on the test images (one appliance launch
# each for guestfish; gx-fish's direct engine answers them all)
# find's names: under a directory given with a trailing slash ('/', '/etc/')
# they have no leading slash, otherwise they do (the daemon cuts /sysroot
# plus the directory off each path); checksums-out prints ./NAME either way.
case_ img-find '--ro -a "$IMAGES/linux.img" -i' <<'EOF2'
find /etc/apt/
find /etc/apt
find0 /etc/apt/ -
echo
checksums-out md5 /etc/apt -
checksums-out md5 /etc/apt/ -
EOF2

case_ img-linux '--ro -a "$IMAGES/linux.img" -i' <<'EOF2'
blockdev-getss /dev/sda
blockdev-getsize64 /dev/sda
filesize /etc/hostname
is-dir /etc
is-file /etc/hostname
exists /nope
is-symlink /bin
cat /etc/hostname
readlink /bin
vfs-type /dev/sda1
vfs-label /dev/sda2
vfs-uuid /dev/sda2
realpath /etc/../etc
list-devices
list-partitions
list-filesystems
head-n 3 /etc/passwd
read-lines /etc/hostname
grep root /etc/passwd
mountpoints
mounts
stat /etc/hostname
lstat /bin
statns /etc/hostname
lstatlist /etc "hostname passwd"
read-file /etc/hostname
pread /etc/hostname 4 2
checksum md5 /etc/hostname
checksum sha256 /etc/hostname
find /etc/apt
ls /boot
ll /
part-list /dev/sda
part-get-parttype /dev/sda
part-get-name /dev/sda 1
part-get-gpt-type /dev/sda 1
part-get-gpt-guid /dev/sda 2
part-get-disk-guid /dev/sda
part-to-dev /dev/sda2
part-to-partnum /dev/sda2
get-e2uuid /dev/sda2
get-e2label /dev/sda2
wc-l /etc/passwd
tail-n 2 /etc/passwd
glob echo /etc/host*
glob echo /etc/a*/
glob echo /nothing* /e?c
glob echo /dev/sda*
cat win:/etc/hostname
-cat /nonexistent
-ls /etc/hostname
inspect-get-roots
inspect-os
EOF2
case_ img-multi '--ro -a "$IMAGES/multi.img"' <<'EOF2'
run
part-get-parttype /dev/sda
part-get-mbr-id /dev/sda 1
part-get-mbr-id /dev/sda 2
part-get-mbr-id /dev/sda 5
part-get-bootable /dev/sda 1
part-list /dev/sda
list-filesystems
mount-ro /dev/sda5 /
ls /
vfs-label /dev/sda6
umount-all
-ls /
EOF2
case_ img-windows '--ro -a "$IMAGES/windows.img" -i' <<'EOF2'
ll win:c:\windows\system32
ls 'win:c:\program files'
ls win:c:\windows\system32
is-file win:c:\WINDOWS\SYSTEM32\CMD.EXE
filesize win:C:\windows\system32\cmd.exe
-cat win:d:\foo
is-dir win:\windows\system32
EOF2

# --- -x trace lines of each return kind (trace turned on after -i, so only
# these calls trace): int, int64, bool, string, string list, hashtable,
# struct, struct list, buffer, and a call that fails.
case_ img-trace '--ro -a "$IMAGES/linux.img" -i' <<'EOF2'
trace true
blockdev-getss /dev/sda
blockdev-getsize64 /dev/sda
is-dir /etc
vfs-type /dev/sda1
list-devices
mountpoints
statns /etc/hostname
part-list /dev/sda
pread /etc/hostname 4 2
-statns /nonexistent
-pread /nonexistent 4 0
trace false
is-dir /etc
EOF2

# --- -x before launch: the return lines of settings (bool, unit, a missing
# optional string), set_trace false tracing itself.
case_ trace-config '-x' <<'EOF2'
get-autosync
get-append
set-append "foo bar"
get-append
is-config
get-pgroup
set-pgroup true
get-pgroup
get-trace
set-trace false
get-trace
EOF2
