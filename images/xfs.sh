# images/xfs.sh: the XFS test images, sourced by images/build.sh (uses its
# $S scratch and $T output directories, `faked`, `skip` and `fixtimes`).
#
# mkfs.xfs (xfsprogs 6.1) fills a filesystem from a protofile: directories,
# regular files (each one contiguous extent), symlinks, device nodes and
# FIFOs with explicit modes and owners, all stamped with the (faked) build
# time. What a protofile cannot say is added with xfs_db in expert mode:
# extended attributes (`attr_set`: values are 'v' repeated) and, on
# /frag/frag.bin, a data fork rewritten as a bmbt of 39 one-block extents
# with holes between them, every fifth extent unwritten. `xfs_repair -n`
# must pass on every image, or the build fails.
#
# xfs.img (128 MiB, v5: crc, ftype, bigtime, finobt, reflink, no rmapbt;
#   UUID $XFS_UUID, label "xfsroot"), from the tree make_xfs_tree builds:
#   /etc/hostname "xfs.test", /etc/fstab
#   /dirs/sf     4 entries (short form, in the inode)
#   /dirs/block  40 entries (one directory block)
#   /dirs/leaf   300 entries (data blocks + one leaf block)
#   /dirs/node   3000 entries named with 40-character names (node form)
#   /dirs/btree  5000 one-block files (data fork as a bmbt: directory blocks
#                interleave with the files' data)
#   /files/empty, /files/small.txt ("hello xfs\n"), /files/blob-4M.bin
#                (4 MiB of helpers.py blob data, seed "xfs"), /files/odd.bin
#                (10000 bytes), setuid/setgid files, owners 1000:100, 5:6
#   /links/short -> ../files/small.txt (in the inode), /links/long (a
#                400-byte target: a remote symlink block), /links/max (1023
#                bytes, what xfs_repair accepts), /links/dangling -> /nonexistent
#   /devs/null (c 1 3), /devs/sda (b 8 0), /devs/fifo
#   /deep/l01/.../l40/leaf.txt (40 levels)
#   /prealloc    an `r` protofile entry: 64 KiB preallocated (unwritten),
#                size 0
#   /frag/frag.bin  see above: logical block 2k holds source block k of
#                frag-src (block k filled with byte 'A'+k%26), k = 0..38;
#                k % 5 == 4 read as zeros (unwritten); odd blocks are holes;
#                size 77*4096+123
#   /xattr/sf    user.small (10 bytes), security.selinux (28 bytes)
#   /xattr/leaf  40 user.attr-NN (NN 00..39, 20 bytes each)
#   /xattr/node  300 user.node-attribute-NNN (30 bytes each)
#   /xattr/remote user.big (5000 bytes: a remote value), user.tiny (1 byte)
# xfs.manifest, xfs-v4.manifest: the source trees as the host saw them (one
#   line per path: path, type letter, octal mode, uid, gid, size, then the
#   sha256 of a file, the target of a symlink or major:minor of a device),
#   with /frag/frag.bin and /prealloc as the xfs_db and protofile steps
#   leave them: the oracle the tests compare the direct engine with.
# xfs-v4.img (128 MiB, v4: -m crc=0; UUID $XFS_V4_UUID, label "xfsv4"): the
#   same tree without /dirs/btree, /frag, /xattr.
# bigtree-xfs.img (128 MiB, v5, UUID $XFS_BIG_UUID, label "bigxfs"): like
#   bigtree.img: /d000../d099, each with f000..f098 (fNNN holds NNN bytes of
#   'x'): 10,000 entries, for ls -lR timings.

XFS_UUID=a1f5a1f5-1111-4222-8333-444455556666
XFS_V4_UUID=a1f50004-1111-4222-8333-444455556666
XFS_BIG_UUID=b1f5b1f5-1111-4222-8333-444455556666

# xfs_proto SRC: a protofile for SRC on stdout (modes and owners as SRC has
# them; regular files by path).
xfs_proto() {
  "$PYTHON" -S - "$1" <<'PY'
import os, stat, sys
src = sys.argv[1]
out = ["gx", "0 0"]
def mode(st):
    m = st.st_mode
    t = {stat.S_IFDIR: "d", stat.S_IFREG: "-", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p"}[stat.S_IFMT(m)]
    return t + ("u" if m & stat.S_ISUID else "-") + ("g" if m & stat.S_ISGID else "-") + "%03o" % (m & 0o777)
def walk(d, depth):
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        st = os.lstat(p)
        line = "%s %s %d %d" % (name, mode(st), st.st_uid, st.st_gid)
        if stat.S_ISDIR(st.st_mode):
            out.append(line)
            walk(p, depth + 1)
            out.append("$")
        elif stat.S_ISREG(st.st_mode):
            if name == "prealloc":
                out.append("%s r%s %d %d 65536" % (name, mode(st)[1:], st.st_uid, st.st_gid))
            else:
                out.append(line + " " + p)
        elif stat.S_ISLNK(st.st_mode):
            out.append(line + " " + os.readlink(p))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            out.append(line + " %d %d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        else:
            out.append(line)
st = os.lstat(src)
out.append("%s %d %d" % (mode(st), st.st_uid, st.st_gid))
walk(src, 0)
out.append("$")
print("\n".join(out))
PY
}

# make_xfs_tree DIR FULL: the source tree (FULL=1 adds /dirs/btree, /frag
# and /xattr).
make_xfs_tree() {
  local r=$1 full=$2
  mkdir -p "$r"/{etc,dirs/sf,dirs/block,dirs/leaf,dirs/node,files,links,devs}
  echo xfs.test >"$r/etc/hostname"
  printf 'UUID=%s / xfs defaults 0 0\n' "$XFS_UUID" >"$r/etc/fstab"
  "$PYTHON" -S - "$r" "$full" <<'PY'
import os, sys
r, full = sys.argv[1], sys.argv[2] == "1"
def put(p, data):
    with open(os.path.join(r, p), "wb") as f:
        f.write(data)
for i in range(4): put("dirs/sf/f%d" % i, b"sf %d\n" % i)
for i in range(40): put("dirs/block/entry-%02d" % i, b"block %d\n" % i)
for i in range(300): put("dirs/leaf/leaf-entry-%03d" % i, b"leaf %d\n" % i)
for i in range(3000): put("dirs/node/node-entry-with-a-long-name-%05d.txt" % i, b"")
if full:
    os.makedirs(os.path.join(r, "dirs/btree"))
    for i in range(5000): put("dirs/btree/b%05d" % i, b"%d\n" % i)
put("files/empty", b"")
put("files/small.txt", b"hello xfs\n")
put("files/odd.bin", bytes((i * 7 + 3) % 251 for i in range(10000)))
PY
  "${HELP[@]}" blob "$r/files/blob-4M.bin" $((4 << 20)) xfs
  echo setuid >"$r/files/setuid"; chmod 4755 "$r/files/setuid"
  echo setgid >"$r/files/setgid"; chmod 2750 "$r/files/setgid"
  echo mine >"$r/files/owned"; chown 1000:100 "$r/files/owned"
  echo theirs >"$r/files/owned2"; chown 5:6 "$r/files/owned2"; chmod 0600 "$r/files/owned2"
  chown 1000:100 "$r/dirs/sf"; chmod 0750 "$r/dirs/sf"
  ln -s ../files/small.txt "$r/links/short"
  ln -s "$(printf 'long/%.0s' $(seq 1 79))target" "$r/links/long"
  ln -s "$(printf 'm%.0s' $(seq 1 1023))" "$r/links/max"
  ln -s /nonexistent "$r/links/dangling"
  mknod "$r/devs/null" c 1 3
  mknod "$r/devs/sda" b 8 0
  mkfifo "$r/devs/fifo"
  local d=$r/deep i
  for i in $(seq -w 1 40); do d=$d/l$i; done
  mkdir -p "$d"; echo bottom >"$d/leaf.txt"
  : >"$r/prealloc"
  if [ "$full" = 1 ]; then
    mkdir -p "$r/frag" "$r/xattr"/{sf,leaf,node,remote}
    "$PYTHON" -S -c '
import sys
with open(sys.argv[1], "wb") as f:
    for k in range(40): f.write(bytes([65 + k % 26]) * 4096)' "$r/frag/frag.bin"
  fi
}

# mkfs_xfs IMG SIZE PROTO UUID LABEL [mkfs options...]
mkfs_xfs() {
  local img=$1 size=$2 proto=$3 uuid=$4 label=$5; shift 5
  rm -f "$img"; truncate -s "$size" "$img"
  # xfsprogs refuses filesystems under 300 MB unless it believes it runs
  # under fstests; these variables are its documented escape hatch.
  TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 faked mkfs.xfs -q -f -L "$label" \
    -m "uuid=$uuid" "$@" -p "$proto" "$img" >/dev/null
}

# xfs_linear IMG FSB: the linear block number (daddr / 8 with 4 KiB blocks)
# of a packed AG/block number.
xfs_linear() {
  local agblocks agblklog
  agblocks=$(xfs_db -r -c "sb 0" -c "p agblocks" "$1" | awk '{print $3}')
  agblklog=$(xfs_db -r -c "sb 0" -c "p agblklog" "$1" | awk '{print $3}')
  echo $((($2 >> agblklog) * agblocks + ($2 & ((1 << agblklog) - 1))))
}

xfs_ino() { # IMG PATH: inode number of PATH
  xfs_db -r -c "path $2" -c "inode" "$1" 2>/dev/null | awk '/^current inode number is /{print $5; exit}'
}

# xfs_fragment IMG INO UUID: rewrite the data fork of INO (one extent of 40
# blocks) as described above, with its last block as the bmbt leaf.
xfs_fragment() {
  local img=$1 ino=$2 uuid=$3 s k i fl
  s=$(xfs_db -r -c "inode $ino" -c "bmap" "$img" | awk '/^data offset 0 /{print $5; exit}')
  [ -n "$s" ] || { echo "xfs_fragment: no extent for inode $ino" >&2; return 1; }
  local leaf=$((s + 39))
  local c=(-c "fsblock $leaf" -c "type data" -c "write fill 0" -c "type bmapbtd"
    -c "write -d magic 0x424d4133" -c "write -d level 0" -c "write -d numrecs 39"
    -c "write -d -- leftsib -1" -c "write -d -- rightsib -1"
    -c "write -d bno $(($(xfs_linear "$img" "$leaf") * 8))"
    -c "write -d uuid $uuid" -c "write -d owner $ino")
  for k in $(seq 0 38); do
    i=$((k + 1)); fl=0; [ $((k % 5)) = 4 ] && fl=1
    c+=(-c "write -d recs[$i].startoff $((2 * k))" -c "write -d recs[$i].startblock $((s + k))"
      -c "write -d recs[$i].blockcount 1" -c "write -d recs[$i].extentflag $fl")
  done
  xfs_db -x "${c[@]}" "$img" >/dev/null 2>&1
  # A separate run: xfs_db 6.1 cannot recompute a CRC in the session that
  # wrote the block.
  xfs_db -x -c "fsblock $leaf" -c "type bmapbtd" -c "crc -r" "$img" >/dev/null 2>&1
  xfs_db -x -c "inode $ino" -c "write -d core.format 3" -c "write -d core.nextents 39" \
    -c "write -d core.size $((77 * 4096 + 123))" -c "write -d u3.bmbt.level 1" \
    -c "write -d u3.bmbt.numrecs 1" -c "write -d u3.bmbt.keys[1].startoff 0" \
    -c "write -d u3.bmbt.ptrs[1] $leaf" "$img" >/dev/null 2>&1
}

# xfs_symlink_v5 IMG INO UUID: mkfs.xfs 6.1's protofile code writes a remote
# symlink target without the v5 block header (xfs_repair then clears the
# inode): move the target behind a proper xfs_dsymlink_hdr.
xfs_symlink_v5() {
  local img=$1 ino=$2 uuid=$3 fsb size
  fsb=$(xfs_db -r -c "inode $ino" -c "bmap" "$img" | awk '/^data offset 0 /{print $5; exit}')
  size=$(xfs_db -r -c "inode $ino" -c "p core.size" "$img" | awk '{print $3}')
  "$PYTHON" -S - "$img" "$(xfs_linear "$img" "$fsb")" "$size" "$ino" "$uuid" <<'PY'
import struct, sys, uuid as U
img, fsb, size, ino, uu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def crc32c(data, crc=0xffffffff):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc
with open(img, "r+b") as f:
    f.seek(fsb * 4096)
    target = f.read(size)
    hdr = struct.pack(">IIII16sQQQ", 0x58534C4D, 0, size, 0, U.UUID(uu).bytes, ino, fsb * 8, 0)
    blk = bytearray((hdr + target).ljust(4096, b"\0"))
    c = crc32c(bytes(blk)) ^ 0xffffffff
    blk[12:16] = struct.pack("<I", c)
    f.seek(fsb * 4096)
    f.write(blk)
PY
}

# xfs_attrs IMG: the attributes listed above.
xfs_attrs() {
  local img=$1 c i
  c=(-c "inode $(xfs_ino "$img" /xattr/sf)" -c "attr_set -u -v 10 small" -c "attr_set -s -v 28 selinux")
  c+=(-c "inode $(xfs_ino "$img" /xattr/leaf)")
  for i in $(seq -w 0 39); do c+=(-c "attr_set -u -v 20 attr-$i"); done
  c+=(-c "inode $(xfs_ino "$img" /xattr/node)")
  for i in $(seq -w 0 299); do c+=(-c "attr_set -u -v 30 node-attribute-$i"); done
  c+=(-c "inode $(xfs_ino "$img" /xattr/remote)" -c "attr_set -u -v 5000 big" -c "attr_set -u -v 1 tiny")
  xfs_db -x "${c[@]}" "$img" >/dev/null
}

# xfs_manifest SRC OUT
xfs_manifest() {
  "$PYTHON" -S - "$1" >"$2" <<'PY'
import hashlib, os, stat, sys
src = sys.argv[1]
lines = []
def frag():
    out = bytearray()
    for k in range(39):
        blk = bytes(4096) if k % 5 == 4 else bytes([65 + k % 26]) * 4096
        out += blk + bytes(4096)
    out = out[:77 * 4096]
    return bytes(out + bytes(123))
for d, dirs, files in os.walk(src):
    dirs.sort()
    for name in sorted(dirs + files):
        p = os.path.join(d, name)
        rel = "/" + os.path.relpath(p, src)
        st = os.lstat(p)
        m = st.st_mode
        t = {stat.S_IFDIR: "d", stat.S_IFREG: "f", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
             stat.S_IFBLK: "b", stat.S_IFIFO: "p"}[stat.S_IFMT(m)]
        size, extra = st.st_size, ""
        if t == "f":
            data = open(p, "rb").read()
            if rel == "/frag/frag.bin":
                data = frag()
            size = len(data)
            extra = hashlib.sha256(data).hexdigest()
        elif t == "l":
            extra = os.readlink(p)
        elif t in "cb":
            extra = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        if t == "d":
            size = 0
        lines.append("\t".join([rel, t, "%o" % stat.S_IMODE(m), str(st.st_uid), str(st.st_gid), str(size), extra]))
print("\n".join(lines))
PY
}

xfs_check() { # IMG
  local out
  if ! out=$(xfs_repair -n "$1" 2>&1); then
    cp "$1" /tmp/xfs-failed.img 2>/dev/null || true
    echo "$out" >&2
    echo "images/build.sh: xfs_repair -n found problems in $1" >&2
    return 1
  fi
}

build_xfs() {
  local x=$S/xfs
  mkdir -p "$x"
  make_xfs_tree "$x/full" 1
  fixtimes "$x/full"
  xfs_proto "$x/full" >"$x/full.proto"
  xfs_manifest "$x/full" "$T/xfs.manifest"
  mkfs_xfs "$T/xfs.img" 128M "$x/full.proto" "$XFS_UUID" xfsroot -m rmapbt=0
  xfs_fragment "$T/xfs.img" "$(xfs_ino "$T/xfs.img" /frag/frag.bin)" "$XFS_UUID"
  xfs_attrs "$T/xfs.img"
  local l
  for l in /links/long /links/max; do
    xfs_symlink_v5 "$T/xfs.img" "$(xfs_ino "$T/xfs.img" "$l")" "$XFS_UUID"
  done
  xfs_check "$T/xfs.img"

  make_xfs_tree "$x/v4" 0
  fixtimes "$x/v4"
  xfs_proto "$x/v4" >"$x/v4.proto"
  xfs_manifest "$x/v4" "$T/xfs-v4.manifest"
  mkfs_xfs "$T/xfs-v4.img" 128M "$x/v4.proto" "$XFS_V4_UUID" xfsv4 -m crc=0
  xfs_check "$T/xfs-v4.img"

  local b=$x/big i j
  mkdir -p "$b"
  "$PYTHON" -S -c '
import os, sys
b = sys.argv[1]
for i in range(100):
    d = os.path.join(b, "d%03d" % i)
    os.mkdir(d)
    for j in range(99):
        with open(os.path.join(d, "f%03d" % j), "wb") as f:
            f.write(b"x" * j)' "$b"
  fixtimes "$b"
  xfs_proto "$b" >"$x/big.proto"
  mkfs_xfs "$T/bigtree-xfs.img" 128M "$x/big.proto" "$XFS_BIG_UUID" bigxfs
  xfs_check "$T/bigtree-xfs.img"
  rm -rf "$x"
}
