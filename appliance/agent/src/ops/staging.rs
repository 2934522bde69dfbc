//! The staging disk: a read-only virtio disk the host attaches last (serial
//! `gxstage`) and writes large `pwrite`s into; `internal_pwrite_staged`
//! reads them from it with `O_DIRECT` (QEMU copies them into our buffer:
//! no channel buffers for the guest to copy out of) and writes them as
//! `pwrite` does.
//!
//! Must not: bind the disk before the first staged write (`internal_start`
//! leaves it alone: its probe would cost every launch), show it to the host
//! (device lists and device arguments go through [`is_staging`]), or read
//! outside it.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::OnceLock;
use std::time::Instant;

use super::{Ops, R, err, fail, helpers, writes};
use crate::alloc::PAGE;

const SERIAL: &str = "gxstage";

/// The staging disk's kernel name (`vdc`) once bound.
static NAME: OnceLock<String> = OnceLock::new();

/// Whether the kernel block device name `name` (`vdc`, `vdc1`) is the staging
/// disk or a partition the kernel found in the bytes it holds.
pub fn is_staging(name: &str) -> bool {
    NAME.get().is_some_and(|s| {
        name.strip_prefix(s.as_str())
            .is_some_and(|rest| rest.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// The bound staging disk: its device opened for `O_DIRECT` reads, its size,
/// and a page-aligned buffer kept from call to call.
pub struct Staging {
    dev: File,
    size: u64,
    buf: Vec<u8>,
}

/// The block device whose serial is ours, if one is bound.
fn find() -> Option<String> {
    fs::read_dir("/sys/block").ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let serial = fs::read_to_string(e.path().join("serial")).ok()?;
        (name.starts_with("vd") && serial.trim() == SERIAL).then_some(name)
    })
}

/// After `internal_start`'s binding, when more disks than the user's drives
/// came up (a kernel whose virtio bus could not hold automatic probing back
/// binds them all): notes the staging disk if it was among them, so that it
/// stays hidden.
pub fn note_if_bound() {
    if NAME.get().is_none() {
        if let Some(n) = find() {
            let _ = NAME.set(n);
        }
    }
}

/// Binds the disk (the last virtio block device: the helper disk, if still
/// unbound, stays so) and opens it.
fn attach() -> R<Staging> {
    let t = Instant::now();
    let mut name = find();
    if name.is_none() {
        if let Some(d) = helpers::unbound_block_devices().last() {
            helpers::bind(d);
        }
        name = helpers::wait_for(find);
    }
    let name = name.ok_or_else(|| err(libc::ENODEV, "the appliance has no staging disk"))?;
    let _ = NAME.set(name.clone());
    let dev_path = format!("/dev/{name}");
    let dev = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&dev_path)
        .map_err(|e| fail(e, &dev_path))?;
    let sectors: u64 = fs::read_to_string(format!("/sys/block/{name}/size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    crate::log(&format!(
        "staging disk {dev_path} ({} MiB) bound in {} ms",
        sectors >> 11,
        t.elapsed().as_millis()
    ));
    Ok(Staging {
        dev,
        size: sectors * 512,
        buf: Vec::new(),
    })
}

impl Ops {
    pub fn internal_pwrite_staged(
        &mut self,
        path: &str,
        offset: i64,
        stage_offset: i64,
        len: i32,
    ) -> R<i32> {
        let len = usize::try_from(len).map_err(|_| err(libc::EINVAL, "length is negative"))?;
        let at = u64::try_from(stage_offset)
            .ok()
            .filter(|o| o % PAGE as u64 == 0)
            .ok_or_else(|| err(libc::EINVAL, "staging offset is not a page boundary"))?;
        if self.staging.is_none() {
            self.staging = Some(attach()?);
        }
        let st = self
            .staging
            .as_mut()
            .ok_or_else(|| err(libc::ENODEV, "the appliance has no staging disk"))?;
        // Whole pages, for O_DIRECT.
        let span = len.div_ceil(PAGE) * PAGE;
        if at.checked_add(span as u64).is_none_or(|end| end > st.size) {
            return Err(err(
                libc::EINVAL,
                format!(
                    "{len} bytes at {at} are outside the staging disk ({} bytes)",
                    st.size
                ),
            ));
        }
        if st.buf.len() < span {
            // At least 64 KiB: the agent's allocator page-aligns such blocks.
            st.buf = vec![0u8; span.max(64 << 10)];
        }
        if (st.buf.as_ptr() as usize) % PAGE != 0 {
            return Err(err(libc::EIO, "the staging buffer is not page-aligned"));
        }
        let mut got = 0;
        while got < span {
            match st.dev.read_at(&mut st.buf[got..span], at + got as u64) {
                Ok(0) => return Err(err(libc::EIO, "the staging disk ended early")),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(e, "reading the staging disk")),
            }
        }
        writes::pwrite(path, &st.buf[..len], offset)
    }
}
