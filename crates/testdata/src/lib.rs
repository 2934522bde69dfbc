//! Test support: the test guest images from `images/`, built once and cached.
//!
//! Tests call [`images`] to get the directory holding the images; the first
//! call in a process runs `images/build.sh` (which locks and caches, so
//! concurrent test binaries are safe and a second run is instant). Set
//! `GX_IMAGES_DIR` to use images built elsewhere. This crate is for tests
//! only: it panics with a clear message when the images cannot be built.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (where `Cargo.toml` with `[workspace]` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testdata sits two levels below the workspace root")
        .to_path_buf()
}

/// Directory of built test images; builds them on first use.
pub fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("GX_IMAGES_DIR") {
            return PathBuf::from(dir);
        }
        let root = workspace_root();
        let script = root.join("images/build.sh");
        let out = root.join("images/out");
        let status = Command::new("bash")
            .arg(&script)
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            status.success(),
            "{} failed ({status}); run `scripts/setup` to install the image tools",
            script.display()
        );
        out
    })
}

/// Path of one image, e.g. `image("linux.qcow2")`; panics if it was not built.
pub fn image(name: &str) -> PathBuf {
    let p = images().join(name);
    assert!(
        p.exists(),
        "test image {} is missing: see images/README.md",
        p.display()
    );
    p
}

/// Path of an expected-output file under `tests/expected/`.
pub fn expected(name: &str) -> PathBuf {
    workspace_root().join("tests/expected").join(name)
}

/// Hash of a file's bytes, for before/after "image unchanged" checks.
/// (FNV-1a over the whole file: a test helper, not a security boundary.)
pub fn file_digest(path: &Path) -> u64 {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Prints a test's `SKIP ...` line where the test harness cannot hide it: on
/// the process's stderr, not in the captured output that `cargo test` shows
/// only for failures. A skipped check must never pass silently. For a missing
/// prerequisite that `scripts/setup` provides use [`skip_or_fail!`] instead:
/// only tests that need hardware KVM skip under CI.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

/// True under CI (`CI=true`, as CI services set it): there `scripts/setup`
/// has installed every prerequisite, so one found missing is a broken set-up.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// For a prerequisite that `scripts/setup` installs (a host tool, the
/// kernel, QEMU, libfaketime, ...) found missing: skips with a `SKIP` line
/// ([`skip!`]) on a developer's machine, and fails the test under CI
/// ([`under_ci`]), where a skip would hide a broken set-up. The caller
/// returns after it. Only hardware-KVM tests may call [`skip!`] directly.
///
/// ```ignore
/// if !has("hivexregedit") {
///     gx_testdata::skip_or_fail!("live_hivexregedit: hivexregedit is not installed");
///     return;
/// }
/// ```
#[macro_export]
macro_rules! skip_or_fail {
    ($($arg:tt)*) => {{
        let why = ::std::format!($($arg)*);
        if $crate::under_ci() {
            ::std::panic!(
                "CI=true and a prerequisite scripts/setup installs is missing: {why}"
            );
        }
        $crate::skip!("SKIP {why} (a failure under CI=true)");
    }};
}

/// Returns from the test, saying why, when the appliance cannot run beside
/// `tool` ([`appliance_missing`]): a skip on a developer's machine, a
/// failure under CI ([`skip_or_fail!`]).
///
/// ```ignore
/// gx_testdata::need_appliance!("rescue_shell_through_a_pty", RESCUE);
/// ```
#[macro_export]
macro_rules! need_appliance {
    ($name:expr, $tool:expr) => {
        if let Some(why) = $crate::appliance_missing($tool) {
            $crate::skip_or_fail!("{}: {why}", $name);
            return;
        }
    };
}

/// A cpio "newc" archive holding one executable, `/init`.
pub fn cpio_with_init(init: &[u8]) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            u32::try_from(data.len()).expect("a test /init under 4 GiB"),
            0,
            0,
            0,
            0,
            u32::try_from(name.len() + 1).expect("short name"),
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    entry(&mut out, 1, 0o100755, "init", init);
    entry(&mut out, 2, 0, "TRAILER!!!", &[]);
    out
}

/// Builds the stock-kernel boot tests' initramfs in `dir`: crates/vmm's
/// `testguest/init.c` compiled static with gcc (it reports over the serial
/// console, checks that ACPI lists the virtio-mmio devices, powers off) as the
/// only file. Returns its path, or why it cannot be built.
pub fn test_init_initrd(dir: &Path) -> Result<PathBuf, String> {
    let init = dir.join("init");
    let src = workspace_root().join("crates/vmm/testguest/init.c");
    let st = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&init)
        .arg(&src)
        .status()
        .map_err(|e| format!("gcc: {e} (run scripts/setup)"))?;
    if !st.success() {
        return Err(format!("gcc -static {} failed ({st})", src.display()));
    }
    let data = std::fs::read(&init).map_err(|e| format!("{}: {e}", init.display()))?;
    let initrd = dir.join("initrd.cpio");
    std::fs::write(&initrd, cpio_with_init(&data))
        .map_err(|e| format!("{}: {e}", initrd.display()))?;
    Ok(initrd)
}

/// Why the appliance cannot run here, if it cannot: no kernel, no QEMU, or
/// no `gx-agent` built next to `tool` (a tool binary the test runs, which
/// looks for the agent beside itself) and no `GX_AGENT`. Tests that boot
/// the appliance call [`skip_or_fail!`] with the reason.
pub fn appliance_missing(tool: &str) -> Option<String> {
    if !Path::new("/boot").exists() && std::env::var_os("GX_KERNEL").is_none() {
        return Some("no kernel (run scripts/setup)".into());
    }
    let agent_next_to_tools = Path::new(tool)
        .parent()
        .is_some_and(|d| d.join("gx-agent").is_file());
    if !agent_next_to_tools && std::env::var_os("GX_AGENT").is_none() {
        return Some("gx-agent is not built next to the tools (`cargo build -p gx-agent`)".into());
    }
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !qemu && std::env::var_os("GX_QEMU").is_none() {
        return Some("no qemu-system-x86_64 (run scripts/setup)".into());
    }
    None
}

/// Every path below `root`, relative to it, following no symlink.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, PathBuf> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let p = e.unwrap_or_else(|e| panic!("{}: {e}", d.display())).path();
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let is_dir = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
            if is_dir {
                todo.push(p.clone());
            }
            out.insert(rel, p);
        }
    }
    out
}
