# Inspection of libguestfs's phony Ubuntu guest (several fstab entries, one
# that does not resolve): the order of mountpoints and filesystems.
run
inspect-os
inspect-get-mountpoints /dev/sda2
inspect-get-filesystems /dev/sda2
inspect-get-hostname /dev/sda2
inspect-get-product-name /dev/sda2
inspect-get-osinfo /dev/sda2
