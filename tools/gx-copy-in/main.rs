//! gx-copy-in: copy local files or directories into a guest (virt-copy-in).

fn main() {
    gx_cli::fish_wrapper::run(&gx_cli::fish_wrapper::Wrapper {
        name: "gx-copy-in",
        fish_args: &["--rw", "-i", "copy-in"],
        usage: "  gx-copy-in -a disk.img file|dir [file|dir ...] /destination\n  \
                gx-copy-in -d domain file|dir [file|dir ...] /destination",
        about: "copy files and directories into a virtual machine disk image",
    })
}
