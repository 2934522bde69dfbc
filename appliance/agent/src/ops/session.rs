//! The session and the shell: starting and ending a session, ping, echo,
//! sync, the appliance shell (`sh`), the guest's own programs (`command`,
//! chrooted into the guest), and `debug`.
//!
//! Must not: leave the bind mounts `command` makes under `/sysroot` behind
//! (they would block unmounting the guest).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::devices::all_disks;
use super::paths::{SYSROOT, need_root};
use super::{Ops, R, REPLY_DATA_MAX, err, fail, helpers, mounts, run, staging};
use crate::sys;

impl Ops {
    pub fn sh(&mut self, command: &str) -> R<String> {
        // A shell may do anything (lvm, mount -t ...): give it every module.
        self.need_modules("all");
        let out = run::prog("busybox")
            .args(["sh", "-c", command])
            .command()
            .current_dir(SYSROOT)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(e, "sh"))?;
        run::stdout_or_error("sh", &out)
    }

    /// The guest's program `args[0]`, chrooted into `/sysroot` with the
    /// appliance's /dev, /proc and /sys bind-mounted into the guest for the
    /// time it runs.
    pub fn command(&mut self, args: &[String]) -> R<String> {
        need_root()?;
        let Some(prog) = args.first() else {
            return Err(err(libc::EINVAL, "passed an empty list"));
        };
        let binds = BindMounts::new();
        let mut c = run::prog(prog).args(&args[1..]).command();
        sys::chroot_command(&mut c, Path::new(SYSROOT)).map_err(|e| fail(e, "chroot"))?;
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(e, prog.as_str()));
        drop(binds);
        let out = out?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(err(libc::EIO, run::failure(prog, &out)))
    }

    pub fn internal_shutdown(&mut self) -> R<()> {
        let r = mounts::umount_all();
        sys::sync();
        r
    }

    pub fn internal_start(&mut self, time_ns: i64, seed: &[u8], drives: i32) -> R<String> {
        let t = Instant::now();
        if time_ns > 0 {
            if let Err(e) = sys::set_realtime(time_ns) {
                crate::log(&format!("setting the clock: {e}"));
            }
        }
        if !seed.is_empty() {
            sys::add_entropy_and_reseed(seed).map_err(|e| fail(e, "seeding the RNG"))?;
        }
        let want = usize::try_from(drives).unwrap_or(0);
        helpers::attach_disks(want);
        if all_disks().len() > want {
            staging::note_if_bound();
        }
        // virtio_blk probes synchronously when it binds; the wait only covers a
        // driver that binds late.
        let deadline = t + Duration::from_secs(20);
        loop {
            let have = all_disks().len();
            if have >= want {
                break;
            }
            if Instant::now() > deadline {
                return Err(err(
                    libc::EIO,
                    format!("only {have} of {want} disks appeared within 20 s"),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(format!(
            "{}; disks ready in {} ms",
            self.info,
            t.elapsed().as_millis()
        ))
    }

    pub fn debug(&mut self, subcmd: &str, extra: &[String]) -> R<String> {
        let args: Vec<&str> = extra.iter().map(String::as_str).collect();
        let busybox = |a: &[&str]| run::prog("busybox").args(a).run();
        match subcmd {
            "help" => Ok(
                "help env dmesg ls ll cat modules mounts sleep-ms exit lying-frame flood \
                 progress-flood\n"
                    .into(),
            ),
            "env" => Ok(std::env::vars()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect()),
            "dmesg" => busybox(&["dmesg"]),
            "ls" => busybox(&[&["ls"][..], &args].concat()),
            "ll" => busybox(&[&["ls", "-la"][..], &args].concat()),
            "cat" => {
                let p = args
                    .first()
                    .ok_or_else(|| err(libc::EINVAL, "cat: which file?"))?;
                let v = fs::read(p).map_err(|e| fail(e, format!("cat: {p}")))?;
                Ok(String::from_utf8_lossy(&v[..v.len().min(REPLY_DATA_MAX)]).into_owned())
            }
            "modules" => fs::read_to_string("/proc/modules").map_err(|e| fail(e, "modules")),
            "mounts" => fs::read_to_string("/proc/self/mounts").map_err(|e| fail(e, "mounts")),
            // Fault injection for the host's tests: a slow call, a dead agent, a
            // reply whose length lies.
            "sleep-ms" => {
                let ms: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
                std::thread::sleep(Duration::from_millis(ms));
                Ok(String::new())
            }
            "exit" => {
                // As PID 1 this panics the kernel; panic=-1 and -no-reboot end
                // the VM: the host sees the channel close mid-call.
                crate::log("exiting on request (debug exit)");
                std::process::exit(1);
            }
            "lying-frame" => {
                // The reply to this call will claim 64 MiB (see run_call): the
                // host must refuse it without allocating that much.
                self.inject_lie = true;
                Ok(String::new())
            }
            // Instead of replying, send frames forever (see run_call): stray
            // replies of other calls, or progress of this one. The host must
            // give up, not loop.
            "flood" => {
                self.inject_flood = Some(false);
                Ok(String::new())
            }
            "progress-flood" => {
                self.inject_flood = Some(true);
                Ok(String::new())
            }
            other => Err(err(
                libc::EINVAL,
                format!("debug: unknown subcommand {other}"),
            )),
        }
    }
}

/// /dev, /dev/pts, /proc and /sys bind-mounted into the guest while the
/// guest's program runs; unmounted (innermost first) when dropped. A guest
/// without one of these directories simply goes without it.
struct BindMounts(Vec<PathBuf>);

impl BindMounts {
    fn new() -> Self {
        let mut done = Vec::new();
        for d in ["/dev", "/dev/pts", "/proc", "/sys"] {
            let Ok(target) = super::paths::resolve(d, true) else {
                continue;
            };
            if !target.is_dir() || !Path::new(d).is_dir() {
                continue;
            }
            if sys::mount(d, &target, "", libc::MS_BIND, "").is_ok() {
                done.push(target);
            }
        }
        BindMounts(done)
    }
}

impl Drop for BindMounts {
    fn drop(&mut self) {
        for t in self.0.iter().rev() {
            if let Err(e) = sys::umount2(t, 0) {
                crate::log(&format!("unmounting {}: {e}", t.display()));
                let _ = sys::umount2(t, libc::MNT_DETACH);
            }
        }
    }
}
