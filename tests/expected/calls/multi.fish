# Read calls on the MBR guest with FAT16, FAT32, ext2, ext3, swap and an
# unformatted logical partition.
run
echo ==== disks
list-partitions
list-filesystems
part-list /dev/sda
part-get-mbr-id /dev/sda 1
part-get-mbr-id /dev/sda 2
part-get-mbr-id /dev/sda 3
part-get-mbr-id /dev/sda 7
part-get-mbr-part-type /dev/sda 1
part-get-mbr-part-type /dev/sda 3
part-get-mbr-part-type /dev/sda 5
part-get-bootable /dev/sda 1
part-get-bootable /dev/sda 2
blockdev-getsize64 /dev/sda5
vfs-label /dev/sda1
vfs-label /dev/sda2
vfs-uuid /dev/sda2
vfs-type /dev/sda7
vfs-label /dev/sda7
vfs-uuid /dev/sda7
vfs-type /dev/sda8
echo ==== fat
mount-ro /dev/sda1 /
ls /
statvfs /
umount-all
mount-ro /dev/sda2 /
ls /
statvfs /
umount-all
echo ==== ext
mount-ro /dev/sda5 /
statvfs /
ls /
umount /
mount-ro /dev/sda6 /
statvfs /
mountpoints
