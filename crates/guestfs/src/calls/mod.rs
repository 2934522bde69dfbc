//! The calls the table leaves to hand-written code (`Engine::Handle` rows):
//! policy (drives, launch, mounts, settings: [`config`], [`mounts`]) and
//! calls composed from other calls ([`files`], [`misc`]), which therefore
//! work the same whichever engine answers and never start the appliance for
//! what the direct engine can read. Inspection lives in [`crate::inspect`].
//!
//! Each is `impl_NAME`, called only by the generated public method `NAME`
//! (generated.rs), which fires the call's events and traces it: the code
//! here neither traces nor fires anything. Signatures follow the table's
//! conventions: strings as `&str`, string lists as `&[String]`, local files
//! as `&mut dyn Read`/`Write`, optional arguments as the generated `XxxOpts`
//! struct by value, `&mut self` where the row says `handle_mut`.

mod config;
mod files;
mod misc;
mod mounts;
pub mod rescue;

use crate::{Drive, FileType, StatNs, Timespec};

/// Conveniences on the API's stat struct.
pub trait StatExt {
    /// The file type from `st_mode`.
    fn file_type(&self) -> FileType;
    /// The permission bits (`st_mode & 07777`).
    fn perm(&self) -> u32;
    fn atime(&self) -> Timespec;
    fn mtime(&self) -> Timespec;
    fn ctime(&self) -> Timespec;
}

impl StatExt for StatNs {
    fn file_type(&self) -> FileType {
        FileType::from_mode(u32::try_from(self.st_mode).unwrap_or(0))
    }
    fn perm(&self) -> u32 {
        u32::try_from(self.st_mode & 0o7777).unwrap_or(0)
    }
    fn atime(&self) -> Timespec {
        Timespec {
            sec: self.st_atime_sec,
            nsec: self.st_atime_nsec,
        }
    }
    fn mtime(&self) -> Timespec {
        Timespec {
            sec: self.st_mtime_sec,
            nsec: self.st_mtime_nsec,
        }
    }
    fn ctime(&self) -> Timespec {
        Timespec {
            sec: self.st_ctime_sec,
            nsec: self.st_ctime_nsec,
        }
    }
}

/// The API's stat struct from a filesystem's answer.
pub(crate) fn statns_from(st: &gx_fs::Stat) -> StatNs {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    StatNs {
        st_dev: st.dev as i64,
        st_ino: i(st.ino),
        st_mode: i64::from(st.mode),
        st_nlink: i(st.nlink),
        st_uid: i64::from(st.uid),
        st_gid: i64::from(st.gid),
        st_rdev: st.rdev as i64,
        st_size: i(st.size),
        st_blksize: i(st.blksize),
        st_blocks: i(st.blocks),
        st_atime_sec: st.atime.sec,
        st_atime_nsec: st.atime.nsec,
        st_mtime_sec: st.mtime.sec,
        st_mtime_nsec: st.mtime.nsec,
        st_ctime_sec: st.ctime.sec,
        st_ctime_nsec: st.ctime.nsec,
        ..StatNs::default()
    }
}

/// Deletes the handle's scratch drives (temporary files it created).
pub(crate) fn remove_scratch(drives: &[Drive]) {
    for d in drives.iter().filter(|d| d.scratch) {
        let _ = std::fs::remove_file(&d.path);
    }
}
