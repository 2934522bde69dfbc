//! Is a running VM writing this image? QEMU announces each permission it holds
//! on an image file with an open-file-description lock on one byte: byte
//! 100 + bit for the permissions it has (bit 1 is WRITE), 200 + bit for those
//! it refuses to share. A writer therefore holds a read lock on byte 101;
//! asking whether a write lock there would conflict tells us, without taking
//! any lock ourselves.

use nix::fcntl::{FcntlArg, fcntl};
use std::fs::File;
use std::path::Path;

/// QEMU's lock byte for "some process holds write permission".
const QEMU_PERM_WRITE_BYTE: i64 = 100 + 1;

/// True when another process (QEMU) holds this image open for writing.
pub fn held_for_write(path: &Path) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let mut fl: libc_flock::Flock = libc_flock::query(QEMU_PERM_WRITE_BYTE);
    fcntl(&file, FcntlArg::F_OFD_GETLK(&mut fl)).map_err(std::io::Error::from)?;
    Ok(i32::from(fl.l_type) != i32::from(nix::libc::F_UNLCK as i16))
}

mod libc_flock {
    pub type Flock = nix::libc::flock;

    /// A probe for a write lock on one byte.
    pub fn query(byte: i64) -> Flock {
        Flock {
            l_type: nix::libc::F_WRLCK as i16,
            l_whence: nix::libc::SEEK_SET as i16,
            l_start: byte,
            l_len: 1,
            l_pid: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlocked_file_is_not_held() {
        let f = tempfile::NamedTempFile::new().unwrap();
        assert!(!held_for_write(f.path()).unwrap());
    }
}
