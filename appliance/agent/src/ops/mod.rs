//! The API calls, as the agent implements them: [`Ops`] carries the
//! session's state and implements gx-protocol's generated `Handler` by
//! handing each call to the module of its area.
//!
//! Layout: `helpers` (the helper disk, kernel modules), `devices` (device
//! names both ways, device checks, LVs), `paths` (guest paths inside
//! `/sysroot`), `run` (helper programs), `mounts` (the mount table),
//! `staging` (the staging disk for large writes); the
//! calls by area in `files`, `writes`, `xattr`, `tar`, `disks`, `parts`,
//! `lvm`, `fs` and `session`.
//!
//! Must not: panic on any argument, log keys, or touch anything outside
//! `/sysroot` on behalf of a guest path. Errors carry the guest's errno and
//! say which path or device and why; the host puts the call's name first.

mod devices;
mod disks;
mod files;
mod fs;
mod helpers;
mod lvm;
mod mounts;
mod parts;
mod paths;
pub mod rescue;
mod run;
mod session;
mod staging;
mod tar;
mod writes;
mod xattr;

use std::io;

use gx_protocol::{
    CallError, CopyAttributesOpts, CryptsetupOpenOpts, Dirent, E2fsckOpts, FileOut, GrepOpts,
    Handler, LvmLv, LvmPv, LvmVg, MAX_FRAME, MkfsOpts, MkswapOpts, NtfsresizeOpts, Partition,
    StatNs, StatVfs, TarInOpts, TarOutOpts, UmountOpts, Xattr, XfsGrowfsOpts,
};

pub use devices::user_names_in;
pub use helpers::{load_modules, preload_disk_driver};

type R<T> = Result<T, CallError>;

/// What fits in one reply frame, with room for the header and length.
pub const REPLY_DATA_MAX: usize = MAX_FRAME - 64;

pub struct Ops {
    /// The agent's self-description (version, kernel), for `internal_start`.
    pub info: String,
    /// Groups of extra modules loaded so far (`/gx/modules.extra.<group>`).
    modules_loaded: Vec<&'static str>,
    /// The disks the LVM configuration was last written for.
    lvm_config_for: Option<Vec<String>>,
    /// Whether this session has activated the volume groups once.
    lvm_activated: bool,
    /// Set by `debug lying-frame`: the next reply is replaced by a bad frame.
    pub inject_lie: bool,
    /// Set by `debug flood` (false) / `debug progress-flood` (true): frames
    /// are sent forever instead of the reply.
    pub inject_flood: Option<bool>,
    /// The pty master of the running rescue shell (`internal_rescue_resize`).
    rescue_pty: Option<std::os::fd::RawFd>,
    /// The staging disk, bound at the first `internal_pwrite_staged`.
    staging: Option<staging::Staging>,
}

fn err(errno: i32, msg: impl Into<String>) -> CallError {
    CallError::new(errno, msg)
}

/// An I/O error's text without Rust's " (os error N)": the C library's
/// words, as libguestfs reports them.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// `"{what}: {strerror}"` with the error's errno (EIO when it has none).
fn fail(e: io::Error, what: impl std::fmt::Display) -> CallError {
    err(
        e.raw_os_error().unwrap_or(libc::EIO),
        format!("{what}: {}", strerror(&e)),
    )
}

impl Default for Ops {
    fn default() -> Self {
        Self::new()
    }
}

impl Ops {
    pub fn new() -> Self {
        Ops {
            info: String::new(),
            modules_loaded: Vec::new(),
            lvm_config_for: None,
            lvm_activated: false,
            inject_lie: false,
            inject_flood: None,
            rescue_pty: None,
            staging: None,
        }
    }

    /// Filesystem drivers, fuse, device-mapper: each group loaded at the first
    /// call that needs it, so the boot and calls that need none pay nothing
    /// (each module costs ~35 ms under TCG). `"all"` loads every group.
    fn need_modules(&mut self, group: &'static str) {
        if self.modules_loaded.contains(&group) || self.modules_loaded.contains(&"all") {
            return;
        }
        self.modules_loaded.push(group);
        let list = if group == "all" {
            "/gx/modules.extra".to_string()
        } else {
            format!("/gx/modules.extra.{group}")
        };
        // The modules live on the helper disk; a group that is all built in
        // (ext4) needs no mount of it.
        if helpers::module_list(&list).is_empty() {
            return;
        }
        helpers::ensure();
        load_modules(&list);
    }
}

/// Each call goes to its area's module; nothing is decided here.
impl Handler for Ops {
    fn echo_daemon(&mut self, words: Vec<String>) -> R<String> {
        Ok(words.join(" "))
    }
    fn debug(&mut self, subcmd: String, extraargs: Vec<String>) -> R<String> {
        Ops::debug(self, &subcmd, &extraargs)
    }
    fn ping(&mut self) -> R<String> {
        Ok(format!("gx-agent {}", env!("CARGO_PKG_VERSION")))
    }
    fn internal_rescue(&mut self, _rows: i32, _cols: i32, _term: String, _bind: bool) -> R<i32> {
        // The serve loop runs the session itself (it needs the channel).
        Err(err(
            libc::EINVAL,
            "internal_rescue: only as a session of its own",
        ))
    }
    fn internal_rescue_resize(&mut self, rows: i32, cols: i32) -> R<()> {
        rescue::resize(self.rescue_pty, rows, cols)
    }
    fn internal_start(&mut self, time_ns: i64, seed: Vec<u8>, drives: i32) -> R<String> {
        Ops::internal_start(self, time_ns, &seed, drives)
    }
    fn internal_shutdown(&mut self) -> R<()> {
        Ops::internal_shutdown(self)
    }
    fn sync(&mut self) -> R<()> {
        crate::sys::sync();
        Ok(())
    }

    // Mounts.
    fn mount(&mut self, mountable: String, mountpoint: String) -> R<()> {
        self.do_mount("", None, &mountable, &mountpoint)
    }
    fn mount_ro(&mut self, mountable: String, mountpoint: String) -> R<()> {
        self.do_mount("ro", None, &mountable, &mountpoint)
    }
    fn mount_options(&mut self, options: String, mountable: String, mountpoint: String) -> R<()> {
        self.do_mount(&options, None, &mountable, &mountpoint)
    }
    fn mount_vfs(
        &mut self,
        options: String,
        vfstype: String,
        mountable: String,
        mountpoint: String,
    ) -> R<()> {
        self.do_mount(&options, Some(&vfstype), &mountable, &mountpoint)
    }
    fn umount(&mut self, pathordevice: String, opts: UmountOpts) -> R<()> {
        self.do_umount(&pathordevice, opts)
    }
    fn umount_all(&mut self) -> R<()> {
        mounts::umount_all()
    }
    fn mounts(&mut self) -> R<Vec<String>> {
        Ok(mounts::mounts())
    }
    fn mountpoints(&mut self) -> R<Vec<(String, String)>> {
        Ok(mounts::mountpoints())
    }

    // Reading files.
    fn ls(&mut self, directory: String) -> R<Vec<String>> {
        files::ls(&directory)
    }
    fn readdir(&mut self, dir: String) -> R<Vec<Dirent>> {
        files::readdir(&dir)
    }
    fn find(&mut self, directory: String) -> R<Vec<String>> {
        files::find(&directory)
    }
    fn statns(&mut self, path: String) -> R<StatNs> {
        files::statns(&path)
    }
    fn lstatns(&mut self, path: String) -> R<StatNs> {
        files::lstatns(&path)
    }
    fn lstatnslist(&mut self, path: String, names: Vec<String>) -> R<Vec<StatNs>> {
        files::lstatnslist(&path, &names)
    }
    fn statvfs(&mut self, path: String) -> R<StatVfs> {
        files::statvfs(&path)
    }
    fn readlink(&mut self, path: String) -> R<String> {
        files::readlink(&path)
    }
    fn realpath(&mut self, path: String) -> R<String> {
        files::realpath(&path)
    }
    fn download(&mut self, remotefilename: String, out: &mut dyn FileOut) -> R<()> {
        Ops::download(self, &remotefilename, out)
    }
    fn download_offset(
        &mut self,
        remotefilename: String,
        offset: i64,
        size: i64,
        out: &mut dyn FileOut,
    ) -> R<()> {
        Ops::download_offset(self, &remotefilename, offset, size, out)
    }
    fn pread(&mut self, path: String, count: i32, offset: i64) -> R<Vec<u8>> {
        files::pread(&path, count, offset)
    }
    fn pread_device(&mut self, device: String, count: i32, offset: i64) -> R<Vec<u8>> {
        Ops::pread_device(self, &device, count, offset)
    }
    fn grep(&mut self, regex: String, path: String, opts: GrepOpts) -> R<Vec<String>> {
        files::grep(&regex, &path, &opts)
    }

    // Extended attributes.
    fn getxattrs(&mut self, path: String) -> R<Vec<Xattr>> {
        xattr::getxattrs(&path)
    }
    fn lgetxattrs(&mut self, path: String) -> R<Vec<Xattr>> {
        xattr::lgetxattrs(&path)
    }
    fn lxattrlist(&mut self, path: String, names: Vec<String>) -> R<Vec<Xattr>> {
        xattr::lxattrlist(&path, &names)
    }
    fn getxattr(&mut self, path: String, name: String) -> R<Vec<u8>> {
        xattr::getxattr(&path, &name, true)
    }
    fn lgetxattr(&mut self, path: String, name: String) -> R<Vec<u8>> {
        xattr::getxattr(&path, &name, false)
    }
    fn setxattr(&mut self, xattr: String, val: Vec<u8>, vallen: i32, path: String) -> R<()> {
        xattr::setxattr(&xattr, &val, vallen, &path, true)
    }
    fn lsetxattr(&mut self, xattr: String, val: Vec<u8>, vallen: i32, path: String) -> R<()> {
        xattr::setxattr(&xattr, &val, vallen, &path, false)
    }
    fn removexattr(&mut self, xattr: String, path: String) -> R<()> {
        xattr::removexattr(&xattr, &path, true)
    }
    fn lremovexattr(&mut self, xattr: String, path: String) -> R<()> {
        xattr::removexattr(&xattr, &path, false)
    }

    // Tar.
    fn tar_out(&mut self, directory: String, opts: TarOutOpts, out: &mut dyn FileOut) -> R<()> {
        tar::tar_out(&directory, &opts, out)
    }
    fn tar_in(&mut self, directory: String, opts: TarInOpts, data: &mut dyn io::Read) -> R<()> {
        tar::tar_in(&directory, &opts, data)
    }

    // Writing files.
    fn write(&mut self, path: String, content: Vec<u8>) -> R<()> {
        writes::write(&path, &content, false)
    }
    fn write_append(&mut self, path: String, content: Vec<u8>) -> R<()> {
        writes::write(&path, &content, true)
    }
    fn upload(&mut self, remotefilename: String, data: &mut dyn io::Read) -> R<()> {
        Ops::upload(self, &remotefilename, data)
    }
    fn upload_offset(
        &mut self,
        remotefilename: String,
        offset: i64,
        data: &mut dyn io::Read,
    ) -> R<()> {
        Ops::upload_offset(self, &remotefilename, offset, data)
    }
    fn pwrite(&mut self, path: String, content: Vec<u8>, offset: i64) -> R<i32> {
        writes::pwrite(&path, &content, offset)
    }
    fn internal_pwrite_staged(
        &mut self,
        path: String,
        offset: i64,
        stage_offset: i64,
        len: i32,
    ) -> R<i32> {
        Ops::internal_pwrite_staged(self, &path, offset, stage_offset, len)
    }
    fn pwrite_device(&mut self, device: String, content: Vec<u8>, offset: i64) -> R<i32> {
        Ops::pwrite_device(self, &device, &content, offset)
    }
    fn mkdir(&mut self, path: String) -> R<()> {
        writes::mkdir(&path)
    }
    fn mkdir_p(&mut self, path: String) -> R<()> {
        writes::mkdir_p(&path)
    }
    fn mkdir_mode(&mut self, path: String, mode: i32) -> R<()> {
        writes::mkdir_mode(&path, mode)
    }
    fn rmdir(&mut self, path: String) -> R<()> {
        writes::rmdir(&path)
    }
    fn rm(&mut self, path: String) -> R<()> {
        writes::rm(&path, false)
    }
    fn rm_f(&mut self, path: String) -> R<()> {
        writes::rm(&path, true)
    }
    fn rm_rf(&mut self, path: String) -> R<()> {
        writes::rm_rf(&path)
    }
    fn mv(&mut self, src: String, dest: String) -> R<()> {
        writes::mv(&src, &dest)
    }
    fn rename(&mut self, oldpath: String, newpath: String) -> R<()> {
        writes::rename(&oldpath, &newpath)
    }
    fn cp(&mut self, src: String, dest: String) -> R<()> {
        writes::cp(&src, &dest)
    }
    fn cp_a(&mut self, src: String, dest: String) -> R<()> {
        writes::cp_a(&src, &dest)
    }
    fn cp_r(&mut self, src: String, dest: String) -> R<()> {
        writes::cp_r(&src, &dest)
    }
    fn chmod(&mut self, mode: i32, path: String) -> R<()> {
        writes::chmod(mode, &path)
    }
    fn utimens(
        &mut self,
        path: String,
        atsecs: i64,
        atnsecs: i64,
        mtsecs: i64,
        mtnsecs: i64,
    ) -> R<()> {
        writes::utimens(&path, (atsecs, atnsecs), (mtsecs, mtnsecs))
    }
    fn mknod(&mut self, mode: i32, devmajor: i32, devminor: i32, path: String) -> R<()> {
        writes::mknod(mode, devmajor, devminor, &path)
    }
    fn chown(&mut self, owner: i32, group: i32, path: String) -> R<()> {
        writes::chown(owner, group, &path, true)
    }
    fn lchown(&mut self, owner: i32, group: i32, path: String) -> R<()> {
        writes::chown(owner, group, &path, false)
    }
    fn touch(&mut self, path: String) -> R<()> {
        writes::touch(&path)
    }
    fn ln(&mut self, target: String, linkname: String) -> R<()> {
        writes::ln(&target, &linkname, false)
    }
    fn ln_f(&mut self, target: String, linkname: String) -> R<()> {
        writes::ln(&target, &linkname, true)
    }
    fn ln_s(&mut self, target: String, linkname: String) -> R<()> {
        writes::ln_s(&target, &linkname, false)
    }
    fn ln_sf(&mut self, target: String, linkname: String) -> R<()> {
        writes::ln_s(&target, &linkname, true)
    }
    fn truncate(&mut self, path: String) -> R<()> {
        writes::truncate_size(&path, 0)
    }
    fn truncate_size(&mut self, path: String, size: i64) -> R<()> {
        writes::truncate_size(&path, size)
    }
    fn fallocate64(&mut self, path: String, len: i64) -> R<()> {
        writes::fallocate64(&path, len)
    }
    fn fill(&mut self, c: i32, len: i32, path: String) -> R<()> {
        writes::fill(c, len, &path)
    }
    fn fill_pattern(&mut self, pattern: String, len: i32, path: String) -> R<()> {
        writes::fill_pattern(&pattern, len, &path)
    }
    fn copy_attributes(&mut self, src: String, dest: String, opts: CopyAttributesOpts) -> R<()> {
        writes::copy_attributes(&src, &dest, &opts)
    }
    fn zero_free_space(&mut self, directory: String) -> R<()> {
        writes::zero_free_space(&directory)
    }

    // Commands.
    fn sh(&mut self, command: String) -> R<String> {
        Ops::sh(self, &command)
    }
    fn sh_lines(&mut self, command: String) -> R<Vec<String>> {
        Ops::sh(self, &command).map(|s| run::split_lines(&s))
    }
    fn command(&mut self, arguments: Vec<String>) -> R<String> {
        Ops::command(self, &arguments)
    }
    fn command_lines(&mut self, arguments: Vec<String>) -> R<Vec<String>> {
        Ops::command(self, &arguments).map(|s| run::split_lines(&s))
    }

    // Disks.
    fn list_devices(&mut self) -> R<Vec<String>> {
        Ok(disks::list_devices())
    }
    fn list_partitions(&mut self) -> R<Vec<String>> {
        Ok(disks::list_partitions())
    }
    fn list_filesystems(&mut self) -> R<Vec<(String, String)>> {
        Ops::list_filesystems(self)
    }
    fn vfs_type(&mut self, mountable: String) -> R<String> {
        Ops::vfs_type(self, &mountable)
    }
    fn vfs_label(&mut self, mountable: String) -> R<String> {
        Ops::vfs_label(self, &mountable)
    }
    fn vfs_uuid(&mut self, mountable: String) -> R<String> {
        Ops::vfs_uuid(self, &mountable)
    }
    fn blkid(&mut self, device: String) -> R<Vec<(String, String)>> {
        Ops::blkid(self, &device)
    }
    fn blockdev_getsize64(&mut self, device: String) -> R<i64> {
        Ops::blockdev_getsize64(self, &device)
    }
    fn blockdev_getss(&mut self, device: String) -> R<i32> {
        Ops::blockdev_getss(self, &device)
    }
    fn blockdev_getbsz(&mut self, device: String) -> R<i32> {
        Ops::blockdev_getbsz(self, &device)
    }
    fn blockdev_getro(&mut self, device: String) -> R<bool> {
        Ops::blockdev_getro(self, &device)
    }
    fn blockdev_setro(&mut self, device: String) -> R<()> {
        Ops::blockdev_setro(self, &device, true)
    }
    fn blockdev_setrw(&mut self, device: String) -> R<()> {
        Ops::blockdev_setro(self, &device, false)
    }
    fn blockdev_flushbufs(&mut self, device: String) -> R<()> {
        Ops::blockdev_flushbufs(self, &device)
    }
    fn blockdev_rereadpt(&mut self, device: String) -> R<()> {
        Ops::blockdev_rereadpt(self, &device)
    }
    fn zero(&mut self, device: String) -> R<()> {
        Ops::zero(self, &device)
    }
    fn zero_device(&mut self, device: String) -> R<()> {
        Ops::zero_device(self, &device)
    }

    // Partitions.
    fn part_init(&mut self, device: String, parttype: String) -> R<()> {
        Ops::part_init(self, &device, &parttype)
    }
    fn part_add(&mut self, device: String, prlogex: String, startsect: i64, endsect: i64) -> R<()> {
        Ops::part_add(self, &device, &prlogex, startsect, endsect)
    }
    fn part_disk(&mut self, device: String, parttype: String) -> R<()> {
        Ops::part_disk(self, &device, &parttype)
    }
    fn part_del(&mut self, device: String, partnum: i32) -> R<()> {
        Ops::part_del(self, &device, partnum)
    }
    fn part_resize(&mut self, device: String, partnum: i32, endsect: i64) -> R<()> {
        Ops::part_resize(self, &device, partnum, endsect)
    }
    fn part_expand_gpt(&mut self, device: String) -> R<()> {
        Ops::part_expand_gpt(self, &device)
    }
    fn part_set_name(&mut self, device: String, partnum: i32, name: String) -> R<()> {
        Ops::part_set_name(self, &device, partnum, &name)
    }
    fn part_set_bootable(&mut self, device: String, partnum: i32, bootable: bool) -> R<()> {
        Ops::part_set_bootable(self, &device, partnum, bootable)
    }
    fn part_set_gpt_type(&mut self, device: String, partnum: i32, guid: String) -> R<()> {
        Ops::part_set_gpt_type(self, &device, partnum, &guid)
    }
    fn part_set_gpt_guid(&mut self, device: String, partnum: i32, guid: String) -> R<()> {
        Ops::part_set_gpt_guid(self, &device, partnum, &guid)
    }
    fn part_set_disk_guid(&mut self, device: String, guid: String) -> R<()> {
        Ops::part_set_disk_guid(self, &device, &guid)
    }
    fn part_set_mbr_id(&mut self, device: String, partnum: i32, idbyte: i32) -> R<()> {
        Ops::part_set_mbr_id(self, &device, partnum, idbyte)
    }
    fn part_list(&mut self, device: String) -> R<Vec<Partition>> {
        Ops::part_list(self, &device)
    }
    fn part_get_parttype(&mut self, device: String) -> R<String> {
        Ops::part_get_parttype(self, &device)
    }
    fn part_get_name(&mut self, device: String, partnum: i32) -> R<String> {
        Ops::part_get_name(self, &device, partnum)
    }
    fn part_get_bootable(&mut self, device: String, partnum: i32) -> R<bool> {
        Ops::part_get_bootable(self, &device, partnum)
    }
    fn part_get_gpt_type(&mut self, device: String, partnum: i32) -> R<String> {
        Ops::part_get_gpt_type(self, &device, partnum)
    }
    fn part_get_gpt_guid(&mut self, device: String, partnum: i32) -> R<String> {
        Ops::part_get_gpt_guid(self, &device, partnum)
    }
    fn part_get_disk_guid(&mut self, device: String) -> R<String> {
        Ops::part_get_disk_guid(self, &device)
    }
    fn part_get_mbr_id(&mut self, device: String, partnum: i32) -> R<i32> {
        Ops::part_get_mbr_id(self, &device, partnum)
    }
    fn part_get_mbr_part_type(&mut self, device: String, partnum: i32) -> R<String> {
        Ops::part_get_mbr_part_type(self, &device, partnum)
    }

    // LVM and encrypted devices.
    fn pvcreate(&mut self, device: String) -> R<()> {
        Ops::pvcreate(self, &device)
    }
    fn vgcreate(&mut self, volgroup: String, physvols: Vec<String>) -> R<()> {
        Ops::vgcreate(self, &volgroup, &physvols)
    }
    fn lvcreate(&mut self, logvol: String, volgroup: String, mbytes: i32) -> R<()> {
        Ops::lvcreate(self, &logvol, &volgroup, mbytes)
    }
    fn lvcreate_free(&mut self, logvol: String, volgroup: String, percent: i32) -> R<()> {
        Ops::lvcreate_free(self, &logvol, &volgroup, percent)
    }
    fn lvresize(&mut self, device: String, mbytes: i32) -> R<()> {
        Ops::lvresize(self, &device, mbytes)
    }
    fn lvresize_free(&mut self, lv: String, percent: i32) -> R<()> {
        Ops::lvresize_free(self, &lv, percent)
    }
    fn pvresize(&mut self, device: String) -> R<()> {
        Ops::pvresize(self, &device)
    }
    fn lvremove(&mut self, device: String) -> R<()> {
        Ops::lvremove(self, &device)
    }
    fn vgremove(&mut self, vgname: String) -> R<()> {
        Ops::vgremove(self, &vgname)
    }
    fn pvremove(&mut self, device: String) -> R<()> {
        Ops::pvremove(self, &device)
    }
    fn lvrename(&mut self, logvol: String, newlogvol: String) -> R<()> {
        Ops::lvrename(self, &logvol, &newlogvol)
    }
    fn vgrename(&mut self, volgroup: String, newvolgroup: String) -> R<()> {
        Ops::vgrename(self, &volgroup, &newvolgroup)
    }
    fn lvm_remove_all(&mut self) -> R<()> {
        Ops::lvm_remove_all(self)
    }
    fn vg_activate_all(&mut self, activate: bool) -> R<()> {
        Ops::vg_activate(self, activate, &[])
    }
    fn vg_activate(&mut self, activate: bool, volgroups: Vec<String>) -> R<()> {
        Ops::vg_activate(self, activate, &volgroups)
    }
    fn lvm_scan(&mut self, activate: bool) -> R<()> {
        Ops::lvm_scan(self, activate)
    }
    fn lvs(&mut self) -> R<Vec<String>> {
        Ops::lvs(self)
    }
    fn vgs(&mut self) -> R<Vec<String>> {
        Ops::vgs(self)
    }
    fn pvs(&mut self) -> R<Vec<String>> {
        Ops::pvs(self)
    }
    fn lvs_full(&mut self) -> R<Vec<LvmLv>> {
        Ops::lvs_full(self)
    }
    fn vgs_full(&mut self) -> R<Vec<LvmVg>> {
        Ops::vgs_full(self)
    }
    fn pvs_full(&mut self) -> R<Vec<LvmPv>> {
        Ops::pvs_full(self)
    }
    fn lvuuid(&mut self, device: String) -> R<String> {
        Ops::lvuuid(self, &device)
    }
    fn vguuid(&mut self, vgname: String) -> R<String> {
        Ops::vguuid(self, &vgname)
    }
    fn pvuuid(&mut self, device: String) -> R<String> {
        Ops::pvuuid(self, &device)
    }
    fn vglvuuids(&mut self, vgname: String) -> R<Vec<String>> {
        Ops::vglvuuids(self, &vgname)
    }
    fn vgpvuuids(&mut self, vgname: String) -> R<Vec<String>> {
        Ops::vgpvuuids(self, &vgname)
    }
    fn list_dm_devices(&mut self) -> R<Vec<String>> {
        Ops::list_dm_devices(self)
    }
    fn lvm_canonical_lv_name(&mut self, lvname: String) -> R<String> {
        Ops::lvm_canonical_lv_name(self, &lvname)
    }
    fn is_lv(&mut self, mountable: String) -> R<bool> {
        Ops::is_lv(self, &mountable)
    }
    fn cryptsetup_open(
        &mut self,
        device: String,
        key: String,
        mapname: String,
        opts: CryptsetupOpenOpts,
    ) -> R<()> {
        Ops::cryptsetup_open(self, &device, &key, &mapname, &opts)
    }
    fn cryptsetup_close(&mut self, device: String) -> R<()> {
        Ops::cryptsetup_close(self, &device)
    }
    fn luks_uuid(&mut self, device: String) -> R<String> {
        Ops::luks_uuid(self, &device)
    }

    // Filesystems.
    fn mkfs(&mut self, fstype: String, device: String, opts: MkfsOpts) -> R<()> {
        Ops::mkfs(self, &fstype, &device, &opts)
    }
    fn mkswap(&mut self, device: String, opts: MkswapOpts) -> R<()> {
        Ops::mkswap(self, &device, &opts)
    }
    fn set_label(&mut self, mountable: String, label: String) -> R<()> {
        Ops::set_label(self, &mountable, &label)
    }
    fn set_uuid(&mut self, device: String, uuid: String) -> R<()> {
        Ops::set_uuid(self, &device, &uuid)
    }
    fn set_uuid_random(&mut self, device: String) -> R<()> {
        Ops::set_uuid_random(self, &device)
    }
    fn resize2fs(&mut self, device: String) -> R<()> {
        Ops::resize2fs(self, &device, fs::Resize::Fill)
    }
    fn resize2fs_size(&mut self, device: String, size: i64) -> R<()> {
        Ops::resize2fs(self, &device, fs::Resize::Size(size))
    }
    fn resize2fs_M(&mut self, device: String) -> R<()> {
        Ops::resize2fs(self, &device, fs::Resize::Minimum)
    }
    fn e2fsck(&mut self, device: String, opts: E2fsckOpts) -> R<()> {
        Ops::e2fsck(self, &device, &opts)
    }
    fn fsck(&mut self, fstype: String, device: String) -> R<i32> {
        Ops::fsck(self, &fstype, &device)
    }
    fn ntfsresize(&mut self, device: String, opts: NtfsresizeOpts) -> R<()> {
        Ops::ntfsresize(self, &device, &opts)
    }
    fn xfs_growfs(&mut self, path: String, opts: XfsGrowfsOpts) -> R<()> {
        Ops::xfs_growfs(self, &path, &opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_drops_rusts_suffix() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(strerror(&e), "No such file or directory");
        let c = fail(e, "open: /etc/x");
        assert_eq!(c.errno, libc::ENOENT);
        assert_eq!(c.message, "open: /etc/x: No such file or directory");
    }
}
