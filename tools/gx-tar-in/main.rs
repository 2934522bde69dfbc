//! gx-tar-in: unpack a tarball into a guest directory (virt-tar-in).

fn main() {
    gx_cli::fish_wrapper::run(&gx_cli::fish_wrapper::Wrapper {
        name: "gx-tar-in",
        fish_args: &["--rw", "-i", "tar-in"],
        usage: "  gx-tar-in -a disk.img data.tar /destination\n  \
                gx-tar-in -d domain data.tar /destination\n  \
                zcat data.tar.gz | gx-tar-in -d domain - /destination",
        about: "unpack a tarball into a virtual machine disk image",
    })
}
