use super::*;
use std::io::Cursor;

fn frame_bytes(kind: Kind, serial: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_frame(&mut v, kind, serial, &[payload]).expect("write");
    v
}

#[test]
fn table_numbers_and_names_unique() {
    let mut nrs: Vec<_> = CALLS.iter().map(|c| c.nr).collect();
    nrs.sort();
    nrs.dedup();
    assert_eq!(nrs.len(), CALLS.len(), "a procedure number is used twice");
    let mut names: Vec<_> = CALLS.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CALLS.len());
    assert_eq!(call_info("mount_ro").map(|c| c.nr), Some(7));
    assert_eq!(
        call_info("upload").map(|c| c.stream),
        Some(StreamKind::FileIn)
    );
}

/// A small deterministic generator (xorshift64*): arbitrary, reproducible values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "/", "-", " ", "\0", "é", "日", "\n", "0", "%s", "'",
        ];
        (0..self.below(24))
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn strings(&mut self) -> Vec<String> {
        (0..self.below(5)).map(|_| self.string()).collect()
    }
    fn bytes(&mut self) -> Vec<u8> {
        (0..self.below(64)).map(|_| self.next() as u8).collect()
    }
    fn int(&mut self) -> i32 {
        match self.below(4) {
            0 => i32::MIN,
            1 => -1,
            _ => self.next() as i32,
        }
    }
    fn int64(&mut self) -> i64 {
        match self.below(4) {
            0 => i64::MAX,
            1 => -1,
            _ => self.next() as i64,
        }
    }
}

/// A Call payload for `a` built from the table's argument kinds alone (not
/// from the generated code): procedure number, the arguments that travel
/// (streams do not), then each optional argument as an option.
fn payload(a: &gx_api::Action, rng: &mut Rng) -> Vec<u8> {
    use gx_api::{ArgKind, OptKind, StrKind};
    let mut p = Vec::new();
    a.proc_nr.expect("agent call").put(&mut p);
    for arg in a.args {
        match arg.kind {
            ArgKind::Str(StrKind::FileIn | StrKind::FileOut) => {}
            ArgKind::Str(_) => rng.string().put(&mut p),
            ArgKind::OptStr => (rng.below(2) == 0).then(|| rng.string()).put(&mut p),
            ArgKind::StrList(_) => rng.strings().put(&mut p),
            ArgKind::Bool => (rng.below(2) == 0).put(&mut p),
            ArgKind::Int => rng.int().put(&mut p),
            ArgKind::Int64 => rng.int64().put(&mut p),
            ArgKind::BufferIn => rng.bytes().put(&mut p),
        }
    }
    for o in a.optargs {
        let some = rng.below(2) == 0;
        match o.kind {
            OptKind::Bool => some.then(|| rng.below(2) == 0).put(&mut p),
            OptKind::Int => some.then(|| rng.int()).put(&mut p),
            OptKind::Int64 => some.then(|| rng.int64()).put(&mut p),
            OptKind::Str => some.then(|| rng.string()).put(&mut p),
            OptKind::StrList => some.then(|| rng.strings()).put(&mut p),
        }
    }
    p
}

fn agent_actions() -> impl Iterator<Item = &'static gx_api::Action> {
    gx_api::actions().filter(|a| a.proc_nr.is_some())
}

#[test]
fn every_call_round_trips_with_arbitrary_values() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = 0;
    for a in agent_actions() {
        seen += 1;
        for _ in 0..25 {
            let p = payload(a, &mut rng);
            let c = Call::decode(&p).unwrap_or_else(|e| panic!("{}: {e}", a.name));
            assert_eq!(c.name(), a.name);
            assert_eq!(Some(c.proc_nr()), a.proc_nr);
            let stream = if a.file_in() {
                StreamKind::FileIn
            } else if a.file_out() {
                StreamKind::FileOut
            } else {
                StreamKind::None
            };
            assert_eq!(c.stream(), stream, "{}", a.name);
            assert_eq!(c.encode(), p, "{} re-encodes differently", a.name);
            assert_eq!(call_info(a.name).map(|i| i.nr), a.proc_nr);
        }
        // Every strict prefix is an error, never a panic or another call;
        // trailing garbage is an error.
        let p = payload(a, &mut rng);
        for cut in 0..p.len() {
            assert!(Call::decode(&p[..cut]).is_err(), "{} cut at {cut}", a.name);
        }
        let mut more = p.clone();
        more.push(0);
        assert!(
            matches!(Call::decode(&more), Err(ProtoError::Trailing(1))),
            "{}",
            a.name
        );
    }
    assert_eq!(seen, CALLS.len(), "the table and CALLS disagree");
}

#[test]
fn malformed_arguments_are_errors() {
    // A bool that is 2, an option tag that is 7, a string that is not UTF-8.
    let mut p = Vec::new();
    call_info("vg_activate_all").expect("call").nr.put(&mut p);
    p.push(2);
    assert!(matches!(Call::decode(&p), Err(ProtoError::Malformed(_))));
    let mut p = Vec::new();
    call_info("mkswap").expect("call").nr.put(&mut p);
    "/dev/sda".to_string().put(&mut p);
    p.push(7);
    assert!(matches!(Call::decode(&p), Err(ProtoError::Malformed(_))));
    let mut p = Vec::new();
    call_info("ls").expect("call").nr.put(&mut p);
    2u32.put(&mut p);
    p.extend_from_slice(&[0xc3, 0x28]);
    assert!(matches!(Call::decode(&p), Err(ProtoError::Malformed(_))));
}

#[test]
fn unknown_proc_is_error() {
    let mut p = Vec::new();
    9999u32.put(&mut p);
    assert!(matches!(Call::decode(&p), Err(ProtoError::BadProc(9999))));
}

#[test]
fn frame_round_trip() {
    let b = frame_bytes(Kind::Reply, 42, b"hello");
    let mut buf = Vec::new();
    let f = read_frame(&mut Cursor::new(&b), &mut buf).expect("read");
    assert_eq!(f.kind, Kind::Reply);
    assert_eq!(f.serial, 42);
    assert_eq!(f.payload, b"hello");
}

#[test]
fn oversize_frame_rejected_without_allocation() {
    // Claims 4 GiB - 1; only 9 bytes follow.
    let mut b = u32::MAX.to_le_bytes().to_vec();
    b.extend_from_slice(&[2, 0, 0, 0, 0]);
    let mut buf = Vec::new();
    let e = read_frame(&mut Cursor::new(&b), &mut buf).expect_err("oversize");
    assert!(matches!(e, ProtoError::Oversize(_)));
    assert!(buf.capacity() < 1024);
}

#[test]
fn lying_length_under_limit_is_truncation() {
    // Claims 4 MiB, sends 10 bytes: error, and the buffer only held what came.
    let mut b = (MAX_FRAME as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&[2, 1, 0, 0, 0, 1, 2, 3, 4, 5]);
    let mut buf = Vec::new();
    let e = read_frame(&mut Cursor::new(&b), &mut buf).expect_err("truncated");
    assert!(matches!(e, ProtoError::Io(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof));
    assert!(buf.capacity() < 64 * 1024, "capacity {}", buf.capacity());
}

#[test]
fn truncated_and_short_frames() {
    let b = frame_bytes(Kind::Chunk, 7, &[9; 100]);
    for cut in 1..b.len() {
        let mut buf = Vec::new();
        assert!(read_frame(&mut Cursor::new(&b[..cut]), &mut buf).is_err());
    }
    let mut buf = Vec::new();
    assert!(matches!(
        read_frame(&mut Cursor::new(&[] as &[u8]), &mut buf),
        Err(ProtoError::Closed)
    ));
    // Body shorter than the header.
    let b = [3u8, 0, 0, 0, 1, 2, 3];
    assert!(matches!(
        read_frame(&mut Cursor::new(&b), &mut buf),
        Err(ProtoError::Malformed(_))
    ));
    // Unknown kind.
    let b = frame_bytes(Kind::Chunk, 1, b"");
    let mut bad = b.clone();
    bad[4] = 99;
    assert!(matches!(
        read_frame(&mut Cursor::new(&bad), &mut buf),
        Err(ProtoError::BadKind(99))
    ));
}

#[test]
fn write_refuses_oversize() {
    let big = vec![0u8; MAX_FRAME];
    let mut out = Vec::new();
    assert!(matches!(
        write_frame(&mut out, Kind::Chunk, 1, &[&big]),
        Err(ProtoError::Oversize(_))
    ));
    assert!(out.is_empty());
}

#[test]
fn lying_list_lengths() {
    // A list of strings claiming 1e9 elements in an 8-byte payload.
    let mut p = Vec::new();
    1_000_000_000u32.put(&mut p);
    0u32.put(&mut p);
    assert!(wire::from_slice::<Vec<String>>(&p).is_err());
    // A byte buffer claiming more bytes than present.
    let mut p = Vec::new();
    100u32.put(&mut p);
    p.extend_from_slice(&[1, 2, 3]);
    assert!(wire::from_slice::<Vec<u8>>(&p).is_err());
    // Bad UTF-8 and bad bool.
    let mut p = Vec::new();
    2u32.put(&mut p);
    p.extend_from_slice(&[0xff, 0xfe]);
    assert!(wire::from_slice::<String>(&p).is_err());
    assert!(wire::from_slice::<bool>(&[2]).is_err());
}

#[test]
fn structs_round_trip() {
    let s = StatNs {
        st_size: 12345,
        st_mode: 0o100644,
        st_mtime_nsec: 999_999_999,
        ..Default::default()
    };
    assert_eq!(
        wire::from_slice::<StatNs>(&wire::to_vec(&s)).expect("stat"),
        s
    );
    let l = vec![
        Partition {
            part_num: 1,
            part_start: 1 << 20,
            part_end: (2 << 20) - 1,
            part_size: 1 << 20,
        };
        3
    ];
    assert_eq!(
        wire::from_slice::<Vec<Partition>>(&wire::to_vec(&l)).expect("parts"),
        l
    );
    let h = vec![("/dev/sda1".to_string(), "ext4".to_string())];
    assert_eq!(
        wire::from_slice::<Vec<(String, String)>>(&wire::to_vec(&h)).expect("hash"),
        h
    );
}

/// What the recording handler saw: the method called, its arguments in
/// wire encoding, the upload data it read.
#[derive(Default)]
struct Recorder {
    ok: bool,
    name: &'static str,
    args: Vec<u8>,
    upload: Vec<u8>,
    /// The encoding of the value it returned (when `ok`).
    returned: Vec<u8>,
}

impl Recorder {
    fn record<T: Default + Wire>(
        &mut self,
        name: &'static str,
        args: Vec<u8>,
    ) -> Result<T, CallError> {
        self.name = name;
        self.args = args;
        if self.ok {
            let v = T::default();
            self.returned = wire::to_vec(&v);
            Ok(v)
        } else {
            Err(CallError::new(38, name))
        }
    }
}

/// Every Handler method records its name and arguments. Three forms: plain
/// calls, uploads (the data is read), downloads (the name is written).
macro_rules! recorder {
    (plain { $($p:ident($($pa:ident: $pt:ty),*) -> $pr:ty;)* }
     upload { $($i:ident($($ia:ident: $it:ty),*) -> $ir:ty;)* }
     download { $($o:ident($($oa:ident: $ot:ty),*) -> $or:ty;)* }) => {
        impl Handler for Recorder {
            $(
                #[allow(unused_mut)]
                fn $p(&mut self, $($pa: $pt),*) -> Result<$pr, CallError> {
                    let mut args = Vec::new();
                    $( $pa.put(&mut args); )*
                    self.record(stringify!($p), args)
                }
            )*
            $(
                fn $i(&mut self, $($ia: $it,)* data: &mut dyn std::io::Read) -> Result<$ir, CallError> {
                    let mut args = Vec::new();
                    $( $ia.put(&mut args); )*
                    let mut d = Vec::new();
                    data.read_to_end(&mut d).map_err(|e| CallError::new(5, e.to_string()))?;
                    self.upload = d;
                    self.record(stringify!($i), args)
                }
            )*
            $(
                fn $o(&mut self, $($oa: $ot,)* out: &mut dyn crate::FileOut) -> Result<$or, CallError> {
                    let mut args = Vec::new();
                    $( $oa.put(&mut args); )*
                    out.write_all(stringify!($o).as_bytes()).map_err(|e| CallError::new(5, e.to_string()))?;
                    self.record(stringify!($o), args)
                }
            )*
        }
    };
}

recorder! {
    plain {
        echo_daemon(words: Vec<String>) -> String;
        debug(subcmd: String, extraargs: Vec<String>) -> String;
        mount(mountable: String, mountpoint: String) -> ();
        mount_ro(mountable: String, mountpoint: String) -> ();
        mount_options(options: String, mountable: String, mountpoint: String) -> ();
        mount_vfs(options: String, vfstype: String, mountable: String, mountpoint: String) -> ();
        umount(pathordevice: String, opts: UmountOpts) -> ();
        umount_all() -> ();
        mounts() -> Vec<String>;
        mountpoints() -> Vec<(String, String)>;
        sync() -> ();
        ls(directory: String) -> Vec<String>;
        readdir(dir: String) -> Vec<Dirent>;
        find(directory: String) -> Vec<String>;
        statns(path: String) -> StatNs;
        lstatns(path: String) -> StatNs;
        lstatnslist(path: String, names: Vec<String>) -> Vec<StatNs>;
        statvfs(path: String) -> StatVfs;
        readlink(path: String) -> String;
        realpath(path: String) -> String;
        pread(path: String, count: i32, offset: i64) -> Vec<u8>;
        pread_device(device: String, count: i32, offset: i64) -> Vec<u8>;
        grep(regex: String, path: String, opts: GrepOpts) -> Vec<String>;
        getxattrs(path: String) -> Vec<Xattr>;
        lgetxattrs(path: String) -> Vec<Xattr>;
        lxattrlist(path: String, names: Vec<String>) -> Vec<Xattr>;
        getxattr(path: String, name: String) -> Vec<u8>;
        lgetxattr(path: String, name: String) -> Vec<u8>;
        write(path: String, content: Vec<u8>) -> ();
        write_append(path: String, content: Vec<u8>) -> ();
        pwrite(path: String, content: Vec<u8>, offset: i64) -> i32;
        pwrite_device(device: String, content: Vec<u8>, offset: i64) -> i32;
        mkdir(path: String) -> ();
        mkdir_p(path: String) -> ();
        mkdir_mode(path: String, mode: i32) -> ();
        rmdir(path: String) -> ();
        rm(path: String) -> ();
        rm_f(path: String) -> ();
        rm_rf(path: String) -> ();
        mv(src: String, dest: String) -> ();
        rename(oldpath: String, newpath: String) -> ();
        cp(src: String, dest: String) -> ();
        cp_a(src: String, dest: String) -> ();
        cp_r(src: String, dest: String) -> ();
        chmod(mode: i32, path: String) -> ();
        utimens(path: String, atsecs: i64, atnsecs: i64, mtsecs: i64, mtnsecs: i64) -> ();
        mknod(mode: i32, devmajor: i32, devminor: i32, path: String) -> ();
        chown(owner: i32, group: i32, path: String) -> ();
        lchown(owner: i32, group: i32, path: String) -> ();
        touch(path: String) -> ();
        ln(target: String, linkname: String) -> ();
        ln_f(target: String, linkname: String) -> ();
        ln_s(target: String, linkname: String) -> ();
        ln_sf(target: String, linkname: String) -> ();
        truncate(path: String) -> ();
        truncate_size(path: String, size: i64) -> ();
        fallocate64(path: String, len: i64) -> ();
        fill(c: i32, len: i32, path: String) -> ();
        fill_pattern(pattern: String, len: i32, path: String) -> ();
        copy_attributes(src: String, dest: String, opts: CopyAttributesOpts) -> ();
        setxattr(xattr: String, val: Vec<u8>, vallen: i32, path: String) -> ();
        lsetxattr(xattr: String, val: Vec<u8>, vallen: i32, path: String) -> ();
        removexattr(xattr: String, path: String) -> ();
        lremovexattr(xattr: String, path: String) -> ();
        zero_free_space(directory: String) -> ();
        sh(command: String) -> String;
        sh_lines(command: String) -> Vec<String>;
        command(arguments: Vec<String>) -> String;
        command_lines(arguments: Vec<String>) -> Vec<String>;
        list_devices() -> Vec<String>;
        list_partitions() -> Vec<String>;
        list_filesystems() -> Vec<(String, String)>;
        vfs_type(mountable: String) -> String;
        vfs_label(mountable: String) -> String;
        vfs_uuid(mountable: String) -> String;
        blkid(device: String) -> Vec<(String, String)>;
        blockdev_getsize64(device: String) -> i64;
        blockdev_getss(device: String) -> i32;
        blockdev_getbsz(device: String) -> i32;
        blockdev_getro(device: String) -> bool;
        blockdev_setro(device: String) -> ();
        blockdev_setrw(device: String) -> ();
        blockdev_flushbufs(device: String) -> ();
        blockdev_rereadpt(device: String) -> ();
        zero(device: String) -> ();
        zero_device(device: String) -> ();
        part_init(device: String, parttype: String) -> ();
        part_add(device: String, prlogex: String, startsect: i64, endsect: i64) -> ();
        part_disk(device: String, parttype: String) -> ();
        part_del(device: String, partnum: i32) -> ();
        part_resize(device: String, partnum: i32, endsect: i64) -> ();
        part_expand_gpt(device: String) -> ();
        part_set_name(device: String, partnum: i32, name: String) -> ();
        part_set_bootable(device: String, partnum: i32, bootable: bool) -> ();
        part_set_gpt_type(device: String, partnum: i32, guid: String) -> ();
        part_set_gpt_guid(device: String, partnum: i32, guid: String) -> ();
        part_set_disk_guid(device: String, guid: String) -> ();
        part_set_mbr_id(device: String, partnum: i32, idbyte: i32) -> ();
        part_list(device: String) -> Vec<Partition>;
        part_get_parttype(device: String) -> String;
        part_get_name(device: String, partnum: i32) -> String;
        part_get_bootable(device: String, partnum: i32) -> bool;
        part_get_gpt_type(device: String, partnum: i32) -> String;
        part_get_gpt_guid(device: String, partnum: i32) -> String;
        part_get_disk_guid(device: String) -> String;
        part_get_mbr_id(device: String, partnum: i32) -> i32;
        part_get_mbr_part_type(device: String, partnum: i32) -> String;
        pvcreate(device: String) -> ();
        vgcreate(volgroup: String, physvols: Vec<String>) -> ();
        lvcreate(logvol: String, volgroup: String, mbytes: i32) -> ();
        lvcreate_free(logvol: String, volgroup: String, percent: i32) -> ();
        lvresize(device: String, mbytes: i32) -> ();
        lvresize_free(lv: String, percent: i32) -> ();
        pvresize(device: String) -> ();
        lvremove(device: String) -> ();
        vgremove(vgname: String) -> ();
        pvremove(device: String) -> ();
        lvrename(logvol: String, newlogvol: String) -> ();
        vgrename(volgroup: String, newvolgroup: String) -> ();
        lvm_remove_all() -> ();
        vg_activate_all(activate: bool) -> ();
        vg_activate(activate: bool, volgroups: Vec<String>) -> ();
        lvm_scan(activate: bool) -> ();
        lvs() -> Vec<String>;
        vgs() -> Vec<String>;
        pvs() -> Vec<String>;
        lvs_full() -> Vec<LvmLv>;
        vgs_full() -> Vec<LvmVg>;
        pvs_full() -> Vec<LvmPv>;
        lvuuid(device: String) -> String;
        vguuid(vgname: String) -> String;
        pvuuid(device: String) -> String;
        vglvuuids(vgname: String) -> Vec<String>;
        vgpvuuids(vgname: String) -> Vec<String>;
        list_dm_devices() -> Vec<String>;
        lvm_canonical_lv_name(lvname: String) -> String;
        is_lv(mountable: String) -> bool;
        cryptsetup_open(device: String, key: String, mapname: String, opts: CryptsetupOpenOpts) -> ();
        cryptsetup_close(device: String) -> ();
        luks_uuid(device: String) -> String;
        mkfs(fstype: String, device: String, opts: MkfsOpts) -> ();
        mkswap(device: String, opts: MkswapOpts) -> ();
        set_label(mountable: String, label: String) -> ();
        set_uuid(device: String, uuid: String) -> ();
        set_uuid_random(device: String) -> ();
        resize2fs(device: String) -> ();
        resize2fs_size(device: String, size: i64) -> ();
        resize2fs_M(device: String) -> ();
        e2fsck(device: String, opts: E2fsckOpts) -> ();
        fsck(fstype: String, device: String) -> i32;
        ntfsresize(device: String, opts: NtfsresizeOpts) -> ();
        xfs_growfs(path: String, opts: XfsGrowfsOpts) -> ();
        ping() -> String;
        internal_start(time_ns: i64, seed: Vec<u8>, drives: i32) -> String;
        internal_shutdown() -> ();
        internal_pwrite_staged(path: String, offset: i64, stage_offset: i64, len: i32) -> i32;
        internal_rescue(rows: i32, cols: i32, term: String, bind: bool) -> i32;
        internal_rescue_resize(rows: i32, cols: i32) -> ();
    }
    upload {
        upload(remotefilename: String) -> ();
        upload_offset(remotefilename: String, offset: i64) -> ();
        tar_in(directory: String, opts: TarInOpts) -> ();
    }
    download {
        download(remotefilename: String) -> ();
        download_offset(remotefilename: String, offset: i64, size: i64) -> ();
        tar_out(directory: String, opts: TarOutOpts) -> ();
    }
}

#[test]
fn dispatch_routes_every_call_with_its_arguments() {
    let mut rng = Rng(42);
    for a in agent_actions() {
        let p = payload(a, &mut rng);
        let c = Call::decode(&p).expect("decode");
        let expect_args = p[4..].to_vec();
        for ok in [false, true] {
            let mut h = Recorder {
                ok,
                ..Recorder::default()
            };
            let mut up: &[u8] = b"uploaded bytes";
            let mut down = Vec::new();
            let io = match c.stream() {
                StreamKind::None => StreamIo::None,
                StreamKind::FileIn => StreamIo::In(&mut up),
                StreamKind::FileOut => StreamIo::Out(&mut down),
            };
            let r = dispatch(&mut h, c.clone(), io);
            assert_eq!(h.name, a.name, "dispatch called the wrong method");
            assert_eq!(
                h.args, expect_args,
                "{}: arguments changed on the way",
                a.name
            );
            match r {
                Ok(reply) => {
                    assert!(ok, "{}", a.name);
                    assert_eq!(
                        reply, h.returned,
                        "{}: reply is not the return value",
                        a.name
                    );
                }
                Err(e) => {
                    assert!(!ok, "{}: {e}", a.name);
                    assert_eq!((e.errno, e.message.as_str()), (38, a.name));
                }
            }
            match c.stream() {
                StreamKind::FileIn => assert_eq!(h.upload, b"uploaded bytes"),
                StreamKind::FileOut => assert_eq!(down, a.name.as_bytes()),
                StreamKind::None => {}
            }
        }
        // A streamed call without its stream is an error reply, not a panic.
        if c.stream() != StreamKind::None {
            let mut h = Recorder::default();
            let e = dispatch(&mut h, c.clone(), StreamIo::None).expect_err("no stream");
            assert_eq!(e.errno, 22, "{}", a.name);
            assert_eq!(h.name, "", "{} ran without its stream", a.name);
        }
    }
}

#[test]
fn replies_decode_as_the_calls_return_types() {
    let mut h = Recorder {
        ok: true,
        ..Recorder::default()
    };
    let r = dispatch(&mut h, Call::Lstatns { path: "/x".into() }, StreamIo::None).expect("stat");
    assert_eq!(
        decode_reply::<StatNs>(&r).expect("decode"),
        StatNs::default()
    );
    let r = dispatch(&mut h, Call::ListFilesystems, StreamIo::None).expect("list");
    assert!(
        decode_reply::<Vec<(String, String)>>(&r)
            .expect("decode")
            .is_empty()
    );
    // Decoding as the wrong type fails rather than inventing a value.
    let r = dispatch(
        &mut h,
        Call::Pwrite {
            path: "/x".into(),
            content: vec![1],
            offset: 0,
        },
        StreamIo::None,
    )
    .expect("pwrite");
    assert_eq!(decode_reply::<i32>(&r).expect("i32"), 0);
    assert!(decode_reply::<i64>(&r).is_err());
}
