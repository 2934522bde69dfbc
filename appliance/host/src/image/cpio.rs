//! Our cpio "newc" writer, for the initramfs.

use super::*;

/// A cpio "newc" archive writer, the format the kernel unpacks into rootfs.
pub(super) struct Cpio {
    w: BufWriter<fs::File>,
    path: PathBuf,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    pub(super) fn new(path: &Path) -> Result<Self, Error> {
        let f =
            fs::File::create(path).map_err(|e| Error::Build(format!("{}: {e}", path.display())))?;
        Ok(Cpio {
            w: BufWriter::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
            ino: 1,
            dirs: BTreeSet::new(),
        })
    }

    pub(super) fn err(&self, e: std::io::Error) -> Error {
        Error::Build(format!("writing {}: {e}", self.path.display()))
    }

    pub(super) fn entry(
        &mut self,
        name: &str,
        mode: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> Result<(), Error> {
        let name = name.trim_start_matches('/');
        let namesize = name.len() + 1;
        let filesize = u32::try_from(data.len())
            .map_err(|_| Error::Build(format!("{name}: too big for cpio newc")))?;
        self.ino += 1;
        let hdr = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino, mode, 0, 0, 1, 0, filesize, 0, 0, rdev.0, rdev.1, namesize, 0
        );
        let pad = |n: usize| (4 - n % 4) % 4;
        let r = (|| {
            self.w.write_all(hdr.as_bytes())?;
            self.w.write_all(name.as_bytes())?;
            self.w
                .write_all(&[0u8; 4][..1 + pad(hdr.len() + namesize)])?;
            self.w.write_all(data)?;
            self.w.write_all(&[0u8; 4][..pad(data.len())])
        })();
        r.map_err(|e| self.err(e))
    }

    /// Creates missing parent directories first: the kernel does not.
    pub(super) fn parents(&mut self, path: &str) -> Result<(), Error> {
        let mut cur = String::new();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            cur.push('/');
            cur.push_str(p);
            if self.dirs.insert(cur.clone()) {
                self.entry(&cur.clone(), 0o040755, &[], (0, 0))?;
            }
        }
        Ok(())
    }

    pub(super) fn dir(&mut self, path: &str) -> Result<(), Error> {
        self.parents(path)?;
        if self.dirs.insert(path.to_string()) {
            self.entry(path, 0o040755, &[], (0, 0))?;
        }
        Ok(())
    }

    pub(super) fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<(), Error> {
        self.parents(path)?;
        self.entry(path, 0o100000 | perm, data, (0, 0))
    }

    pub(super) fn symlink(&mut self, path: &str, target: &str) -> Result<(), Error> {
        self.parents(path)?;
        self.entry(path, 0o120777, target.as_bytes(), (0, 0))
    }

    pub(super) fn chardev(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), Error> {
        self.parents(path)?;
        self.entry(path, 0o020000 | perm, &[], (major, minor))
    }

    pub(super) fn finish(mut self) -> Result<(), Error> {
        self.entry("TRAILER!!!", 0, &[], (0, 0))?;
        self.w.flush().map_err(|e| self.err(e))?;
        self.w.get_ref().sync_all().map_err(|e| self.err(e))
    }
}
