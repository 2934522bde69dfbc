use super::*;
use std::io::Cursor;

fn frame_bytes(kind: Kind, serial: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_frame(&mut v, kind, serial, &[payload]).expect("write");
    v
}

#[test]
fn table_numbers_unique_and_increasing() {
    let mut last = 0;
    for c in CALLS {
        assert!(c.nr > last, "{} has nr {} after {}", c.name, c.nr, last);
        last = c.nr;
    }
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

#[test]
fn call_round_trip() {
    let calls = vec![
        Call::Ping {},
        Call::MountOptions {
            options: "ro,noload".into(),
            mountable: "/dev/sda1".into(),
            mountpoint: "/".into(),
        },
        Call::Write {
            path: "/x".into(),
            content: vec![0, 1, 2, 255],
        },
        Call::Debug {
            subcmd: "ls".into(),
            extraargs: vec!["/".into(), "-l".into()],
        },
        Call::PartAdd {
            device: "/dev/sda".into(),
            prlogex: "p".into(),
            startsect: 2048,
            endsect: -1,
        },
        Call::VgActivateAll { activate: true },
    ];
    for c in calls {
        let enc = c.encode();
        assert_eq!(Call::decode(&enc).expect("decode"), c);
        // Every strict prefix is an error, never a panic or a wrong call.
        for cut in 0..enc.len() {
            assert!(Call::decode(&enc[..cut]).is_err(), "{c:?} cut at {cut}");
        }
        // Trailing garbage is an error.
        let mut more = enc.clone();
        more.push(0);
        assert!(matches!(Call::decode(&more), Err(ProtoError::Trailing(1))));
    }
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

// The test handler only implements a few calls; the rest say ENOSYS.
macro_rules! unimplemented_rest {
    () => {
        fn list_partitions(&mut self) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn blockdev_getsize64(&mut self, _: String) -> Result<i64, CallError> {
            nosys()
        }
        fn blockdev_getss(&mut self, _: String) -> Result<i32, CallError> {
            nosys()
        }
        fn mount(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn mount_ro(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn mount_options(&mut self, _: String, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn mount_vfs(
            &mut self,
            _: String,
            _: String,
            _: String,
            _: String,
        ) -> Result<(), CallError> {
            nosys()
        }
        fn umount(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn umount_all(&mut self) -> Result<(), CallError> {
            nosys()
        }
        fn mounts(&mut self) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn mountpoints(&mut self) -> Result<Vec<(String, String)>, CallError> {
            nosys()
        }
        fn ls(&mut self, _: String) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn ll(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn cat(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn read_file(&mut self, _: String) -> Result<Vec<u8>, CallError> {
            nosys()
        }
        fn write(&mut self, _: String, _: Vec<u8>) -> Result<(), CallError> {
            nosys()
        }
        fn write_append(&mut self, _: String, _: Vec<u8>) -> Result<(), CallError> {
            nosys()
        }
        fn mkdir(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn mkdir_p(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn mkdir_mode(&mut self, _: String, _: i32) -> Result<(), CallError> {
            nosys()
        }
        fn rm(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn rm_rf(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn rmdir(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn mv(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn cp(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn cp_a(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn chmod(&mut self, _: i32, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn chown(&mut self, _: i32, _: i32, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn lchown(&mut self, _: i32, _: i32, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn touch(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn ln_s(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn ln(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn rename(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn truncate(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn truncate_size(&mut self, _: String, _: i64) -> Result<(), CallError> {
            nosys()
        }
        fn sync(&mut self) -> Result<(), CallError> {
            nosys()
        }
        fn statvfs(&mut self, _: String) -> Result<StatVfs, CallError> {
            nosys()
        }
        fn lstatns(&mut self, _: String) -> Result<StatNs, CallError> {
            nosys()
        }
        fn exists(&mut self, _: String) -> Result<bool, CallError> {
            nosys()
        }
        fn is_file(&mut self, _: String) -> Result<bool, CallError> {
            nosys()
        }
        fn is_dir(&mut self, _: String) -> Result<bool, CallError> {
            nosys()
        }
        fn readlink(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn filesize(&mut self, _: String) -> Result<i64, CallError> {
            nosys()
        }
        fn find(&mut self, _: String) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn pread(&mut self, _: String, _: i32, _: i64) -> Result<Vec<u8>, CallError> {
            nosys()
        }
        fn vfs_type(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn vfs_label(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn vfs_uuid(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn list_filesystems(&mut self) -> Result<Vec<(String, String)>, CallError> {
            nosys()
        }
        fn mkfs(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn part_init(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn part_add(&mut self, _: String, _: String, _: i64, _: i64) -> Result<(), CallError> {
            nosys()
        }
        fn part_disk(&mut self, _: String, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn part_list(&mut self, _: String) -> Result<Vec<Partition>, CallError> {
            nosys()
        }
        fn part_get_parttype(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn resize2fs(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn e2fsck_f(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn lvs(&mut self) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn vgs(&mut self) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn pvs(&mut self) -> Result<Vec<String>, CallError> {
            nosys()
        }
        fn vg_activate_all(&mut self, _: bool) -> Result<(), CallError> {
            nosys()
        }
        fn sh(&mut self, _: String) -> Result<String, CallError> {
            nosys()
        }
        fn debug(&mut self, _: String, _: Vec<String>) -> Result<String, CallError> {
            nosys()
        }
        fn zero(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn blockdev_rereadpt(&mut self, _: String) -> Result<(), CallError> {
            nosys()
        }
        fn internal_shutdown(&mut self) -> Result<(), CallError> {
            nosys()
        }
        fn internal_start(&mut self, _: i64, _: Vec<u8>, _: i32) -> Result<String, CallError> {
            nosys()
        }
    };
}

struct Echo;
impl Handler for Echo {
    fn ping(&mut self) -> Result<String, CallError> {
        Ok("pong".into())
    }
    fn download(&mut self, f: String, out: &mut dyn crate::FileOut) -> Result<(), CallError> {
        out.write_all(f.as_bytes())
            .map_err(|e| CallError::new(5, e.to_string()))
    }
    fn upload(&mut self, _f: String, data: &mut dyn std::io::Read) -> Result<(), CallError> {
        let mut s = Vec::new();
        data.read_to_end(&mut s)
            .map_err(|e| CallError::new(5, e.to_string()))?;
        Ok(())
    }
    fn list_devices(&mut self) -> Result<Vec<String>, CallError> {
        Err(CallError::new(2, "no devices"))
    }
    unimplemented_rest!();
}

fn nosys<T>() -> Result<T, CallError> {
    Err(CallError::new(38, "not implemented"))
}

#[test]
fn dispatch_runs_handlers() {
    let r = dispatch(&mut Echo, Call::Ping {}, StreamIo::None).expect("ping");
    assert_eq!(decode_reply::<String>(&r).expect("decode"), "pong");
    let e = dispatch(&mut Echo, Call::ListDevices {}, StreamIo::None).expect_err("err");
    assert_eq!(e.errno, 2);
    let mut out = Vec::new();
    dispatch(
        &mut Echo,
        Call::Download {
            remotefilename: "abc".into(),
        },
        StreamIo::Out(&mut out),
    )
    .expect("download");
    assert_eq!(out, b"abc");
    // A streamed call without its stream is an error reply, not a panic.
    assert!(
        dispatch(
            &mut Echo,
            Call::Upload {
                remotefilename: "x".into()
            },
            StreamIo::None
        )
        .is_err()
    );
}
