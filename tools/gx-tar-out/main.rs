//! gx-tar-out: pack a guest directory into a tarball (virt-tar-out). The
//! guest is read by the direct engine: nothing boots.

fn main() {
    gx_cli::fish_wrapper::run(&gx_cli::fish_wrapper::Wrapper {
        name: "gx-tar-out",
        fish_args: &["--ro", "-i", "tar-out"],
        usage: "  gx-tar-out -a disk.img /dir files.tar\n  \
                gx-tar-out -d domain /dir files.tar\n  \
                gx-tar-out -d domain /dir - | gzip --best > files.tar.gz",
        about: "pack a virtual machine disk image directory into a tarball",
    })
}
