//! gx-copy-out: copy guest files or directories out (virt-copy-out). The
//! guest is read by the direct engine: nothing boots.

fn main() {
    gx_cli::fish_wrapper::run(&gx_cli::fish_wrapper::Wrapper {
        name: "gx-copy-out",
        fish_args: &["--ro", "-i", "copy-out"],
        usage: "  gx-copy-out -a disk.img /file|dir [/file|dir ...] localdir\n  \
                gx-copy-out -d domain /file|dir [/file|dir ...] localdir",
        about: "copy files and directories out of a virtual machine disk image",
    })
}
