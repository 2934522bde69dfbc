#!/usr/bin/env python3
"""Byte-level helpers for images/build.sh: generated files and patches that no
stock tool makes. Everything here is deterministic (no clock, no randomness).

Usage: helpers.py COMMAND ARGS...  (see the functions below; build.sh is the
only caller). Standard library only.
"""
import hashlib
import json
import os
import struct
import sys
import zlib

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "1704164645"))


def elf(path, payload_len="0"):
    """A minimal static x86-64 ELF executable that exits 0 when run: ELF
    header, one PT_LOAD program header, 12 bytes of code, then PAYLOAD_LEN
    bytes of filler so distinct programs have distinct sizes and checksums."""
    code = bytes.fromhex("b83c000000" "31ff" "0f05" "90909090")  # exit(0)
    base = 0x400000
    ehsize, phsize = 64, 56
    entry = base + ehsize + phsize
    filler = bytes((i * 7 + 3) & 0xFF for i in range(int(payload_len)))
    size = ehsize + phsize + len(code) + len(filler)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, ehsize, 0,
                             0, ehsize, phsize, 1, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    with open(path, "wb") as f:
        f.write(eh + ph + code + filler)


def pe(path, machine="x86_64"):
    """A small valid PE32+ console executable (what file(1) calls 'PE32+
    executable (console) x86-64, for MS Windows'), or PE32 for i386: DOS
    header and stub, PE signature, COFF header, optional header with 16 data
    directories, one .text section holding `xor eax,eax; ret`."""
    mach = {"x86_64": 0x8664, "i386": 0x14C}[machine]
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<HHHHHHHHHHHHH", dos, 2,
                     0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0, 0x40, 0)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    stub = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21" \
           b"This program cannot be run in DOS mode.\r\r\n$"
    dos[0x40:0x40 + len(stub)] = stub
    if machine == "i386":
        # PE32 (what file(1) calls 'PE32 executable ... Intel 80386'): 32-bit
        # optional header with BaseOfData, 0xE0 bytes; 32-bit-machine flag.
        coff = struct.pack("<HHIIIHH", mach, 1, EPOCH, 0, 0, 0xE0, 0x0102)
        opt = struct.pack("<HBBIIIIII", 0x10B, 14, 0, 0x200, 0, 0, 0x1000, 0x1000, 0x2000)
        opt += struct.pack("<IIIHHHHHHIIIIHH", 0x400000, 0x1000, 0x200,
                           6, 0, 6, 0, 6, 0, 0, 0x2000, 0x200, 0, 3, 0x8140)
        opt += struct.pack("<IIIIII", 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
        opt += bytes(16 * 8)
        assert len(opt) == 0xE0
    else:
        coff = struct.pack("<HHIIIHH", mach, 1, EPOCH, 0, 0, 0xF0, 0x0022)
        opt = struct.pack("<HBBIIIII", 0x20B, 14, 0, 0x200, 0, 0, 0x1000, 0x1000)
        opt += struct.pack("<QIIHHHHHHIIIIHH", 0x140000000, 0x1000, 0x200,
                           10, 0, 10, 0, 6, 0, 0, 0x2000, 0x200, 0, 3, 0x8160)
        opt += struct.pack("<QQQQII", 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
        opt += bytes(16 * 8)
        assert len(opt) == 0xF0
    sect = struct.pack("<8sIIIIIIHHI", b".text", 3, 0x1000, 0x200, 0x200,
                       0, 0, 0, 0, 0x60000020)
    hdr = bytes(dos) + b"PE\0\0" + coff + opt + sect
    hdr += bytes(0x200 - len(hdr))
    text = b"\x31\xc0\xc3" + bytes(0x200 - 3)
    with open(path, "wb") as f:
        f.write(hdr + text)


def blob(path, size, seed="guestx"):
    """SIZE bytes of incompressible but reproducible data: the concatenation
    of sha256(SEED + ':' + str(i)) for i = 0, 1, 2, ..."""
    size = int(size)
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    with open(path, "wb") as f:
        f.write(out[:size])


def manyfiles(root, ndirs, nfiles):
    """ROOT/dNNN/fNNN for a directory tree of NDIRS*(NFILES+1) entries; file
    j of a directory holds j bytes ('x' repeated)."""
    for d in range(int(ndirs)):
        dp = os.path.join(root, f"d{d:03}")
        os.makedirs(dp, exist_ok=True)
        for j in range(int(nfiles)):
            with open(os.path.join(dp, f"f{j:03}"), "wb") as f:
                f.write(b"x" * j)


def debugfs_ctime(root, stamp):
    """debugfs commands setting ctime of every inode under ROOT (as it will be
    inside the filesystem) to STAMP; mkfs -d copies the source's ctime, which
    no tool can set."""
    lines = [f"sif / ctime @{stamp}"]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)[len(root):]
            p = p.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'sif "{p}" ctime @{stamp}')
    sys.stdout.write("\n".join(lines) + "\n")


def utf16(s):
    return (s + "\0").encode("utf-16-le")


def hexs(b):
    return ",".join(f"{x:02x}" for x in b)


def reg_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_reg(path, text):
    """Writes a .reg file, adding every missing ancestor key (hivexregedit
    --merge cannot create a key whose parent does not exist). The first two
    path components (e.g. HKEY_LOCAL_MACHINE\\SOFTWARE) are the --prefix."""
    seen = set()
    out = []
    for line in text.split("\n"):
        if line.startswith("[") and line.endswith("]"):
            parts = line[1:-1].split("\\")
            for n in range(3, len(parts)):
                anc = "\\".join(parts[:n])
                if anc.lower() not in seen:
                    seen.add(anc.lower())
                    out += [f"[{anc}]", ""]
            seen.add(line[1:-1].lower())
        out.append(line)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")


def reg_software(path):
    """The SOFTWARE hive's additions (hivexregedit --merge format, strings
    UTF-16LE). A Windows 10 Pro client with four applications (three 64-bit,
    one under WOW6432Node), a profile for user 'test', and
    HKLM\\SOFTWARE\\Guestx\\AllTypes holding one value of every type."""
    cv = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
    un = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
    w6 = (r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows"
          r"\CurrentVersion\Uninstall")
    out = []

    def key(name, values=()):
        out.append(f"[{name}]")
        for n, v in values:
            out.append(("@" if n is None else reg_str(n)) + "=" + v)
        out.append("")

    def sz(s):
        return "str(1):" + reg_str(s)

    def dword(n):
        return f"dword:{n:08x}"

    key(cv, [
        ("ProductName", sz("Windows 10 Pro")),
        ("EditionID", sz("Professional")),
        ("InstallationType", sz("Client")),
        ("CurrentVersion", sz("6.3")),
        ("CurrentMajorVersionNumber", dword(10)),
        ("CurrentMinorVersionNumber", dword(0)),
        ("CurrentBuild", sz("19045")),
        ("CurrentBuildNumber", sz("19045")),
        ("DisplayVersion", sz("22H2")),
        ("SystemRoot", sz(r"C:\Windows")),
        ("RegisteredOwner", sz("Test User")),
        ("InstallDate", dword(EPOCH)),
    ])
    pl = cv + r"\ProfileList"
    key(pl, [("ProfilesDirectory", "hex(2):" + hexs(utf16(r"%SystemDrive%\Users")))])
    key(pl + r"\S-1-5-18", [("ProfileImagePath", "hex(2):" + hexs(utf16(
        r"%systemroot%\system32\config\systemprofile")))])
    key(pl + r"\S-1-5-21-1004336348-1177238915-682003330-1001", [
        ("ProfileImagePath", "hex(2):" + hexs(utf16(r"C:\Users\test")))])
    key(un + r"\{6A3F1C55-1B0E-4C3D-9C7F-2E5D0B8A9F10}", [
        ("DisplayName", sz("Guestx Test Suite")),
        ("DisplayVersion", sz("1.0.0")),
        ("Publisher", sz("Guestx Project")),
        ("InstallLocation", sz(r"C:\Program Files\Guestx")),
        ("URLInfoAbout", sz("https://example.invalid/guestx")),
        ("Comments", sz("A test application with every common field")),
        ("VersionMajor", dword(1)),
        ("VersionMinor", dword(0)),
    ])
    key(un + r"\7-Zip", [
        ("DisplayName", sz("7-Zip 23.01 (x64)")),
        ("DisplayVersion", sz("23.01")),
        ("Publisher", sz("Igor Pavlov")),
        ("InstallLocation", sz("C:\\Program Files\\7-Zip\\")),
    ])
    key(un + r"\NoDisplayName", [("DisplayVersion", sz("0.1"))])
    key(w6 + r"\OldApp32", [
        ("DisplayName", sz("Old 32-bit App")),
        ("DisplayVersion", sz("2.5.1")),
        ("Publisher", sz("Legacy Software Inc.")),
        ("InstallLocation", sz(r"C:\Program Files (x86)\OldApp")),
    ])
    big = bytes((i * 31 + 7) & 0xFF for i in range(20000))
    key(r"HKEY_LOCAL_MACHINE\SOFTWARE\Guestx\AllTypes", [
        (None, sz("default value")),
        ("none", "hex(0):01,02,03"),
        ("sz", sz("Hello, world")),
        ("sz-ascii", "hex(1):" + hexs(b"ascii bytes\0")),
        ("sz-empty", sz("")),
        ("expand_sz", "hex(2):" + hexs(utf16(r"%SystemRoot%\system32"))),
        ("binary", "hex:de,ad,be,ef,00,ff"),
        ("binary-big", "hex:" + hexs(big)),
        ("dword", dword(0x12345678)),
        ("dword_be", "hex(5):12,34,56,78"),
        ("link", "hex(6):" + hexs(r"\Registry\Machine\SOFTWARE\Guestx".encode("utf-16-le"))),
        ("multi_sz", "hex(7):" + hexs("one\0two\0three\0\0".encode("utf-16-le"))),
        ("resource_list", "hex(8):01,00,00,00,00,00,00,00"),
        ("full_resource_descriptor", "hex(9):00,00,00,00,01,00,01,00"),
        ("resource_requirements_list", "hex(a):20,00,00,00,00,00,00,00"),
        ("qword", "hex(b):" + hexs(struct.pack("<Q", 0x0123456789ABCDEF))),
        ("Ünïcödé name", sz("Ünïcödé value ☃")),
    ])
    key(r"HKEY_LOCAL_MACHINE\SOFTWARE\Guestx\Ünïcödé key", [("x", dword(1))])
    write_reg(path, "\n".join(out))


def reg_system(path, disk_id, part_offset):
    """The SYSTEM hive's additions: ControlSet001 current, computer name,
    TCP/IP host and domain, and C: mapped to the NTFS partition the way
    Windows records an MBR volume in MountedDevices (4-byte disk signature,
    8-byte byte offset, both little-endian)."""
    mnt = struct.pack("<IQ", int(disk_id, 16), int(part_offset))
    cs = r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001"
    text = f"""[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]
"Current"=dword:00000001
"Default"=dword:00000001
"Failed"=dword:00000000
"LastKnownGood"=dword:00000001

[HKEY_LOCAL_MACHINE\\SYSTEM\\MountedDevices]
"\\\\DosDevices\\\\C:"=hex:{hexs(mnt)}

[{cs}\\Control\\ComputerName\\ComputerName]
"ComputerName"=str(1):"WIN10-TEST"

[{cs}\\Control\\ComputerName\\ActiveComputerName]
"ComputerName"=str(1):"WIN10-TEST"

[{cs}\\Services\\Tcpip\\Parameters]
"Hostname"=str(1):"win10-test"
"Domain"=str(1):"example.test"
"NV Hostname"=str(1):"win10-test"

[{cs}\\Control\\Session Manager\\Environment]
"PROCESSOR_ARCHITECTURE"=str(1):"AMD64"
"""
    write_reg(path, text)


def reg_user(path, name):
    text = f"""[HKEY_USERS\\{name}\\Environment]
"TEMP"=hex(2):{hexs(utf16('%USERPROFILE%' + chr(92) + 'AppData' + chr(92) + 'Local' + chr(92) + 'Temp'))}

[HKEY_USERS\\{name}\\Software\\Guestx]
"User"=str(1):"{name}"
"""
    write_reg(path, text)


def ntfs_serial(path, serial):
    """Sets the NTFS volume serial (boot sector offset 0x48, 8 bytes LE) in
    the boot sector and in the backup boot sector (the volume's last sector,
    where mkntfs puts it)."""
    val = struct.pack("<Q", int(serial, 16))
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for off in (0, size - 512):
            f.seek(off)
            bs = f.read(512)
            if bs[3:11] != b"NTFS    ":
                sys.exit(f"ntfs_serial: no NTFS boot sector at {off} in {path}")
            f.seek(off + 0x48)
            f.write(val)


def exfat_serial(path, serial):
    """Sets the exFAT volume serial (offset 0x64, 4 bytes LE) in the main and
    backup boot regions and recomputes each region's boot checksum sector
    (sector 11, the checksum of sectors 0-10 skipping VolumeFlags and
    PercentInUse, repeated to fill the sector)."""
    with open(path, "r+b") as f:
        bs = f.read(512)
        if bs[3:11] != b"EXFAT   ":
            sys.exit(f"exfat_serial: {path} is not exFAT")
        ssz = 1 << bs[108]
        for region in (0, 12):
            base = region * ssz
            f.seek(base)
            data = bytearray(f.read(11 * ssz))
            struct.pack_into("<I", data, 0x64, int(serial, 16))
            csum = 0
            for i, b in enumerate(data):
                if i in (106, 107, 112):
                    continue
                csum = (((csum << 31) | (csum >> 1)) + b) & 0xFFFFFFFF
            f.seek(base)
            f.write(data)
            f.write(struct.pack("<I", csum) * (ssz // 4))


def gpt_corrupt(path, which):
    """Breaks the header CRC of the primary ('primary') or backup ('backup')
    GPT header by flipping every bit of its stored CRC32."""
    size = os.path.getsize(path)
    off = 512 if which == "primary" else size - 512
    with open(path, "r+b") as f:
        f.seek(off)
        hdr = f.read(92)
        if hdr[:8] != b"EFI PART":
            sys.exit(f"gpt_corrupt: no GPT header at {off} in {path}")
        crc = struct.unpack_from("<I", hdr, 16)[0]
        f.seek(off + 16)
        f.write(struct.pack("<I", crc ^ 0xFFFFFFFF))


def mbr_entry(path, index, ptype, start, nsect):
    """Writes MBR partition entry INDEX (1-4) by hand (sfdisk refuses what we
    want here): type PTYPE (hex), START and NSECT in sectors, CHS fields set
    to the LBA-only marker."""
    i = int(index) - 1
    ent = struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", int(ptype, 16),
                      b"\xfe\xff\xff", int(start), int(nsect))
    with open(path, "r+b") as f:
        f.seek(446 + 16 * i)
        f.write(ent)
        f.seek(510)
        f.write(b"\x55\xaa")


def ebr_loop(path):
    """Makes the extended partition's chain of EBRs cycle: the second EBR's
    link entry is pointed back at the first EBR."""
    with open(path, "r+b") as f:
        mbr = f.read(512)
        ext = None
        for i in range(4):
            e = mbr[446 + 16 * i:462 + 16 * i]
            if e[4] in (0x05, 0x0F, 0x85):
                ext = struct.unpack_from("<I", e, 8)[0]
        if ext is None:
            sys.exit("ebr_loop: no extended partition")
        f.seek(ext * 512)
        ebr1 = f.read(512)
        link = struct.unpack_from("<I", ebr1, 446 + 16 + 8)[0]
        if link == 0:
            sys.exit("ebr_loop: only one logical partition")
        ebr2 = ext + link
        # Link entry of EBR 2: relative start 0 = the first EBR again.
        f.seek(ebr2 * 512 + 446 + 16)
        f.write(struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", 0x05,
                            b"\xfe\xff\xff", 0, 2048))


def sfdisk_starts(path):
    """Partition number and start sector of every partition, one 'N START'
    line each, from `sfdisk --json` output on stdin."""
    data = json.load(sys.stdin)
    for p in data["partitiontable"]["partitions"]:
        node = p["node"]
        n = int(node[len(path):].lstrip("p"))
        print(n, p["start"], p["size"])


def crc_check(path):
    """Prints the CRC32 of a file (used to document qcow2 contents)."""
    with open(path, "rb") as f:
        print(f"{zlib.crc32(f.read()):08x}")


def rpm_bdb(sqlite_db, out):
    """Writes rpm's Berkeley DB Packages file (hash; key = the header number,
    little-endian u32; value = the header blob) holding the header blobs of an
    rpmdb.sqlite, as CentOS 7's rpm keeps them. Built by db_load from a
    db_dump-format text; the file's unique ID (bytes 52-71 of the meta page,
    time and inode derived) is zeroed so two builds are identical."""
    import sqlite3
    import subprocess
    conn = sqlite3.connect(sqlite_db)
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for hnum, blob in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
        lines.append(" " + struct.pack("<I", hnum).hex())
        lines.append(" " + bytes(blob).hex())
    lines.append("DATA=END")
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run(["db5.3_load", out], input=("\n".join(lines) + "\n").encode(), check=True)
    # Berkeley DB leaves bytes that differ from run to run: the file's unique
    # ID (meta page bytes 52-71, from time and inode), and uninitialised
    # memory in the free gap of hash pages and the three padding bytes of each
    # off-page item. Zero them all.
    with open(out, "r+b") as f:
        data = bytearray(f.read())
    data[52:72] = bytes(20)
    psize = 4096
    for base in range(psize, len(data), psize):
        page = data[base:base + psize]
        if page[25] not in (2, 13):  # P_HASH_UNSORTED, P_HASH
            continue
        entries, hf_offset = struct.unpack_from("<HH", page, 20)
        # The free gap between the index and the items.
        gap = 26 + 2 * entries
        if gap <= hf_offset <= psize:
            data[base + gap:base + hf_offset] = bytes(hf_offset - gap)
        for i in range(entries):
            off = struct.unpack_from("<H", page, 26 + 2 * i)[0]
            if off + 4 <= psize and page[off] == 3:  # H_OFFPAGE
                data[base + off + 1:base + off + 4] = bytes(3)
    with open(out, "wb") as f:
        f.write(data)



# --------------------------------------------------------------------- LVM2
# Loop devices may be missing (CI), so pvcreate/vgcreate/lvcreate cannot run
# on an image file: these write what they would. A SPEC file (JSON) describes
# one VG:
#   {"vg": NAME, "uuid": VG-UUID (32 chars), "seqno": N,
#    "extent_size": SECTORS (default 8192 = 4 MiB),
#    "pvs": [{"file": PATH, "uuid": 32 chars, "device": HINT,
#             "offset": BYTES (where the PV starts in FILE, default 0),
#             "size": BYTES (the PV's size)}, ...],
#    "lvs": [{"name": N, "uuid": 32 chars, "segments": [
#              {"start": EXTENT, "count": EXTENTS, "stripe_size": SECTORS,
#               "stripes": [[PV-INDEX, PV-EXTENT], ...]}, ...],
#             "status": [...] (default READ, WRITE, VISIBLE)}, ...]}
# Layout (as pvcreate 2.03 writes it with default options): the label in
# sector 1 ("LABELONE", its own sector number, CRC of bytes 20..511, offset
# 32 of the pv_header, "LVM2 001"); the pv_header (PV UUID, device size, one
# data area at pe_start = 1 MiB, one metadata area at 4096 of 1 MiB - 4096
# bytes, a header extension v2 with the "used" flag); the mda_header at 4096
# (CRC of bytes 4..511, magic " LVM2 x[5A%r0N*>", version 1, start, size,
# raw_locn[0] = text at area offset 512, its size with the NUL, its CRC); the
# text in the format lvm2's export.c writes. lvm2's CRC is the CRC-32
# polynomial with initial value 0xf597a6cf and no final inversion.
LVM_INITIAL_CRC = 0xF597A6CF
LVM_PE_START = 2048            # sectors
LVM_MDA_AT = 4096
LVM_MDA_SIZE = 1024 * 1024 - 4096


def lvm_crc(data):
    # zlib.crc32 inverts before and after; lvm2 does neither.
    return (~zlib.crc32(data, ~LVM_INITIAL_CRC & 0xFFFFFFFF)) & 0xFFFFFFFF


def lvm_dashed(u):
    cuts = [6, 4, 4, 4, 4, 4, 6]
    out, at = [], 0
    for n in cuts:
        out.append(u[at:at + n])
        at += n
    return "-".join(out)


def lvm_spec(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    spec.setdefault("extent_size", 8192)
    spec.setdefault("seqno", 1)
    ext = spec["extent_size"] * 512
    for pv in spec["pvs"]:
        pv.setdefault("offset", 0)
        pv["pe_count"] = (pv["size"] - LVM_PE_START * 512) // ext
    return spec


def lvm_text(spec):
    t = "\t"
    lines = [spec["vg"] + " {",
             t + 'id = "%s"' % lvm_dashed(spec["uuid"]),
             t + "seqno = %d" % spec["seqno"],
             t + 'format = "lvm2"\t\t\t# informational',
             t + 'status = ["RESIZEABLE", "READ", "WRITE"]',
             t + "flags = []",
             t + "extent_size = %d\t\t# %d Megabytes" % (spec["extent_size"], spec["extent_size"] // 2048),
             t + "max_lv = 0", t + "max_pv = 0", t + "metadata_copies = 0", "",
             t + "physical_volumes {", ""]
    for i, pv in enumerate(spec["pvs"]):
        lines += [t * 2 + "pv%d {" % i,
                  t * 3 + 'id = "%s"' % lvm_dashed(pv["uuid"]),
                  t * 3 + 'device = "%s"\t# Hint only' % pv.get("device", "unknown"), "",
                  t * 3 + 'status = ["ALLOCATABLE"]',
                  t * 3 + "flags = []",
                  t * 3 + "dev_size = %d" % (pv["size"] // 512),
                  t * 3 + "pe_start = %d" % LVM_PE_START,
                  t * 3 + "pe_count = %d" % pv["pe_count"],
                  t * 2 + "}"]
    lines += [t + "}", "", t + "logical_volumes {", ""]
    for lv in spec["lvs"]:
        lines += [t * 2 + lv["name"] + " {",
                  t * 3 + 'id = "%s"' % lvm_dashed(lv["uuid"]),
                  t * 3 + "status = [%s]" % ", ".join('"%s"' % s for s in lv.get("status", ["READ", "WRITE", "VISIBLE"])),
                  t * 3 + "flags = []",
                  t * 3 + "creation_time = %d" % EPOCH,
                  t * 3 + 'creation_host = "guestx-images"',
                  t * 3 + "segment_count = %d" % len(lv["segments"])]
        for n, seg in enumerate(lv["segments"], 1):
            stripes = seg["stripes"]
            lines += ["", t * 3 + "segment%d {" % n,
                      t * 4 + "start_extent = %d" % seg["start"],
                      t * 4 + "extent_count = %d" % seg["count"], "",
                      t * 4 + 'type = "striped"',
                      t * 4 + "stripe_count = %d%s" % (len(stripes), "\t# linear" if len(stripes) == 1 else "")]
            if len(stripes) > 1:
                lines.append(t * 4 + "stripe_size = %d" % seg["stripe_size"])
            lines += ["", t * 4 + "stripes = ["]
            lines += [t * 5 + '"pv%d", %d%s' % (p, e, "," if k + 1 < len(stripes) else "")
                      for k, (p, e) in enumerate(stripes)]
            lines += [t * 4 + "]", t * 3 + "}"]
        lines.append(t * 2 + "}")
    lines += [t + "}", "}",
              "# Generated by images/helpers.py (the layout of LVM2 2.03)", "",
              'contents = "Text Format Volume Group"', "version = 1", "",
              'description = ""', "",
              'creation_host = "guestx-images"',
              "creation_time = %d" % EPOCH, ""]
    return "\n".join(lines).encode() + b"\0"


def lvm_format(spec_path):
    """Writes the PV labels and VG metadata of SPEC into each PV's file
    (created or extended sparse as needed; extents are left alone)."""
    spec = lvm_spec(spec_path)
    text = lvm_text(spec)
    if len(text) > (LVM_MDA_SIZE - 512) // 2:
        sys.exit("lvm-format: metadata too large for the metadata area")
    for pv in spec["pvs"]:
        label = bytearray(512)
        label[0:8] = b"LABELONE"
        struct.pack_into("<Q", label, 8, 1)
        struct.pack_into("<I", label, 20, 32)
        label[24:32] = b"LVM2 001"
        h = 32
        label[h:h + 32] = pv["uuid"].encode()
        struct.pack_into("<Q", label, h + 32, pv["size"])
        # data areas: (pe_start, 0 = to the end), terminator; mdas, terminator
        struct.pack_into("<QQQQQQQQ", label, h + 40, LVM_PE_START * 512, 0, 0, 0,
                         LVM_MDA_AT, LVM_MDA_SIZE, 0, 0)
        # pv_header_extension: version 2, flags PV_EXT_USED, no bootloader area
        struct.pack_into("<II", label, h + 104, 2, 1)
        struct.pack_into("<I", label, 16, lvm_crc(bytes(label[20:])))
        mdah = bytearray(512)
        mdah[4:20] = b" LVM2 x[5A%r0N*>"
        struct.pack_into("<IQQ", mdah, 20, 1, LVM_MDA_AT, LVM_MDA_SIZE)
        struct.pack_into("<QQII", mdah, 40, 512, len(text), lvm_crc(text), 0)
        struct.pack_into("<I", mdah, 0, lvm_crc(bytes(mdah[4:])))
        mode = "r+b" if os.path.exists(pv["file"]) else "w+b"
        with open(pv["file"], mode) as f:
            end = pv["offset"] + pv["size"]
            f.seek(0, 2)
            if f.tell() < end:
                f.truncate(end)
            f.seek(pv["offset"])
            f.write(bytes(512))          # sector 0: nothing (no stale label)
            f.write(label)
            f.seek(pv["offset"] + LVM_MDA_AT)
            f.write(mdah)
            f.write(text)


def lvm_put(spec_path, lv_name, src):
    """Writes file SRC into logical volume LV_NAME of SPEC, through its
    segments and stripes, onto the PV files; all-zero 64 KiB blocks are
    skipped so the files stay sparse."""
    spec = lvm_spec(spec_path)
    ext = spec["extent_size"] * 512
    lv = next(l for l in spec["lvs"] if l["name"] == lv_name)
    size = os.path.getsize(src)
    files = {}

    def where(off):
        for seg in lv["segments"]:
            s0, n = seg["start"] * ext, seg["count"] * ext
            if s0 <= off < s0 + n:
                rel = off - s0
                stripes = seg["stripes"]
                if len(stripes) == 1:
                    pv, e = stripes[0]
                    return pv, e * ext + rel, s0 + n - off
                sb = seg["stripe_size"] * 512
                chunk, within = divmod(rel, sb)
                row, k = divmod(chunk, len(stripes))
                pv, e = stripes[k]
                return pv, e * ext + row * sb + within, sb - within
        sys.exit("lvm-put: %s is larger than LV %s" % (src, lv_name))

    with open(src, "rb") as f:
        off = 0
        while off < size:
            pv, pv_off, room = where(off)
            n = min(room, 65536, size - off)
            f.seek(off)
            data = f.read(n)
            if data.count(0) != len(data):
                p = spec["pvs"][pv]
                if p["file"] not in files:
                    files[p["file"]] = open(p["file"], "r+b")
                out = files[p["file"]]
                out.seek(p["offset"] + LVM_PE_START * 512 + pv_off)
                out.write(data)
            off += n
    for f in files.values():
        f.close()
def poke(path, offset, width, value):
    """Writes VALUE (decimal or 0x hex) as a little-endian integer of WIDTH
    bytes (1, 2, 4 or 8) at byte OFFSET of PATH: how the bombs/ images set
    on-disk fields to what no mkfs would write."""
    fmt = {"1": "<B", "2": "<H", "4": "<I", "8": "<Q"}[width]
    with open(path, "r+b") as f:
        f.seek(int(offset, 0))
        f.write(struct.pack(fmt, int(value, 0)))


def gpt_bomb(path, entries):
    """Writes a protective MBR and a primary GPT header with valid CRCs whose
    partition entry array claims ENTRIES 128-byte entries (the array itself,
    all zeros, is left as it is)."""
    size = os.path.getsize(path)
    last = size // 512 - 1
    n = int(entries, 0)
    with open(path, "r+b") as f:
        f.seek(446)
        f.write(struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE,
                            b"\xfe\xff\xff", 1, min(last, 0xFFFFFFFF)))
        f.seek(510)
        f.write(b"\x55\xaa")
        f.seek(2 * 512)
        arr_crc = zlib.crc32(f.read(128 * min(n, 128)))
        hdr = bytearray(92)
        struct.pack_into("<8sIIIIQQQQ16sQIII", hdr, 0, b"EFI PART", 0x10000, 92, 0, 0,
                         1, last, 34, last - 33, bytes(range(16)), 2, n, 128, arr_crc)
        struct.pack_into("<I", hdr, 16, zlib.crc32(bytes(hdr)))
        f.seek(512)
        f.write(hdr)


def regf_bomb(path, size):
    """Writes a registry hive base block ("regf", version 1.3, root cell at
    0x20) whose hive bins data size claims SIZE - 4096 bytes, then makes the
    file SIZE bytes long: a sparse file of zeros after the base block."""
    n = int(size, 0)
    b = bytearray(4096)
    struct.pack_into("<4sIIQIIIIII", b, 0, b"regf", 1, 1, 0, 1, 3, 0, 1, 0x20,
                     (n - 4096) & 0xFFFFFFFF)
    csum = 0
    for i in range(127):
        csum ^= struct.unpack_from("<I", b, 4 * i)[0]
    struct.pack_into("<I", b, 0x1FC, csum)
    with open(path, "wb") as f:
        f.write(b)
        f.truncate(n)


def bdb_bomb(path, size):
    """Writes a Berkeley DB hash meta page (4 KiB pages) whose last page and
    bucket count claim a database of SIZE bytes, then makes the file SIZE
    bytes long (zeros after the meta page)."""
    n = int(size, 0)
    b = bytearray(4096)
    pages = n // 4096 - 1
    struct.pack_into("<I", b, 12, 0x061561)
    struct.pack_into("<I", b, 20, 4096)
    struct.pack_into("<I", b, 32, pages)
    struct.pack_into("<I", b, 72, pages)
    b[25] = 8
    with open(path, "wb") as f:
        f.write(b)
        f.truncate(n)


def poke_be(path, offset, width, value):
    """Like poke, big-endian (qcow2 header fields)."""
    fmt = {"1": ">B", "2": ">H", "4": ">I", "8": ">Q"}[width]
    with open(path, "r+b") as f:
        f.seek(int(offset, 0))
        f.write(struct.pack(fmt, int(value, 0)))


def ntfs_root_index_size(path, value):
    """Sets the index record size in the $INDEX_ROOT of the root directory
    (MFT record 5) of a freshly made NTFS image to VALUE."""
    with open(path, "r+b") as f:
        bs = f.read(512)
        bps = struct.unpack_from("<H", bs, 0x0B)[0]
        spc = bs[0x0D]
        cs = bps * (spc if spc <= 128 else 1 << (256 - spc))
        mft_lcn = struct.unpack_from("<Q", bs, 0x30)[0]
        info = struct.unpack_from("<b", bs, 0x40)[0]
        rec = cs * info if info > 0 else 1 << -info
        base = mft_lcn * cs + 5 * rec
        f.seek(base)
        r = f.read(rec)
        if r[:4] != b"FILE":
            sys.exit("ntfs_root_index_size: record 5 is not a FILE record")
        a = struct.unpack_from("<H", r, 0x14)[0]
        while a + 8 <= rec:
            ty, ln = struct.unpack_from("<II", r, a)
            if ty == 0xFFFFFFFF or ln == 0:
                break
            if ty == 0x90:
                voff = struct.unpack_from("<H", r, a + 0x14)[0]
                f.seek(base + a + voff + 8)
                f.write(struct.pack("<I", int(value, 0)))
                return
            a += ln
        sys.exit("ntfs_root_index_size: no $INDEX_ROOT in record 5")


def ext4_claim(path, blocks, per_group, ipg="0"):
    """Makes the ext4 superblock of PATH claim BLOCKS blocks in groups of
    PER_GROUP blocks (and IPG inodes per group when not 0), with the inode
    count the kernel requires for that (groups x inodes per group), so that a
    reader gets past the superblock's own consistency checks."""
    blocks, per_group, ipg = int(blocks, 0), int(per_group, 0), int(ipg, 0)
    with open(path, "r+b") as f:
        f.seek(1024)
        sb = bytearray(f.read(1024))
        if ipg == 0:
            ipg = struct.unpack_from("<I", sb, 0x28)[0]
        first = struct.unpack_from("<I", sb, 0x14)[0]
        groups = -(-(blocks - first) // per_group)
        inodes = groups * ipg
        if inodes > 0xFFFFFFFF:
            sys.exit(f"ext4_claim: {groups} groups of {ipg} inodes overflow s_inodes_count")
        struct.pack_into("<I", sb, 0x0, inodes)
        struct.pack_into("<I", sb, 0x4, blocks & 0xFFFFFFFF)
        struct.pack_into("<I", sb, 0x150, blocks >> 32)
        struct.pack_into("<I", sb, 0x20, per_group)
        struct.pack_into("<I", sb, 0x24, per_group)
        struct.pack_into("<I", sb, 0x28, ipg)
        f.seek(1024)
        f.write(sb)


def png(path, width, height, seed="0"):
    """Writes a WIDTH x HEIGHT RGBA PNG (8 bits per channel, no interlace,
    zlib level 9) whose pixels are a pattern drawn from SEED: deterministic,
    small, and a real PNG to `file` and image viewers (guest icons)."""
    w, h, k = int(width), int(height), int(seed)
    rows = bytearray()
    for y in range(h):
        rows.append(0)  # filter: none
        for x in range(w):
            v = ((x // 4 + y // 4 + k) % 3)
            rows += bytes(((v * 97 + k * 31) % 256, (x * 5 + k) % 256, (y * 7) % 256, 255))
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    out += chunk(b"IDAT", zlib.compress(bytes(rows), 9))
    out += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def fat_chain_bomb(path):
    """In a fresh FAT32 image: a root directory entry BIG.BIN claiming
    4 GiB - 1 bytes whose cluster chain takes every other cluster (3, 5, 7,
    ...), so that it is in as many pieces as the volume has clusters / 2."""
    with open(path, "r+b") as f:
        bs = f.read(512)
        bps, spc = struct.unpack_from("<H", bs, 11)[0], bs[13]
        reserved, nfats = struct.unpack_from("<H", bs, 14)[0], bs[16]
        fatsz, root = struct.unpack_from("<I", bs, 36)[0], struct.unpack_from("<I", bs, 44)[0]
        total = struct.unpack_from("<I", bs, 32)[0]
        data = (reserved + nfats * fatsz) * bps
        clusters = (total * bps - data) // (spc * bps)
        fat = bytearray(fatsz * bps)
        struct.pack_into("<III", fat, 0, 0x0FFFFFF8, 0x0FFFFFFF, 0x0FFFFFFF)
        last = clusters + 1
        for c in range(3, last - 1, 2):
            struct.pack_into("<I", fat, 4 * c, c + 2 if c + 2 <= last else 0x0FFFFFFF)
        c = 3 + 2 * ((last - 4) // 2)
        struct.pack_into("<I", fat, 4 * c, 0x0FFFFFFF)
        for i in range(nfats):
            f.seek(reserved * bps + i * fatsz * bps)
            f.write(fat)
        ent = bytearray(32)
        ent[0:11] = b"BIG     BIN"
        ent[11] = 0x20
        struct.pack_into("<HHI", ent, 20, 0, 0, 0)
        struct.pack_into("<H", ent, 26, 3)
        struct.pack_into("<I", ent, 28, 0xFFFFFFFF)
        f.seek(data + (root - 2) * spc * bps)
        f.write(ent)


COMMANDS = {
    "elf": elf, "pe": pe, "blob": blob, "manyfiles": manyfiles,
    "debugfs-ctime": debugfs_ctime, "reg-software": reg_software,
    "reg-system": reg_system, "reg-user": reg_user,
    "ntfs-serial": ntfs_serial, "exfat-serial": exfat_serial,
    "gpt-corrupt": gpt_corrupt, "mbr-entry": mbr_entry, "ebr-loop": ebr_loop,
    "sfdisk-starts": sfdisk_starts, "crc": crc_check, "rpm-bdb": rpm_bdb,
    "lvm-format": lvm_format, "lvm-put": lvm_put,
    "poke": poke, "gpt-bomb": gpt_bomb, "regf-bomb": regf_bomb, "bdb-bomb": bdb_bomb,
    "poke-be": poke_be, "ntfs-root-index-size": ntfs_root_index_size,
    "ext4-claim": ext4_claim, "png": png,
    "fat-chain-bomb": fat_chain_bomb,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: helpers.py " + "|".join(COMMANDS) + " ARGS...")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
