# Read calls on one VG over two disks (sda1 of lvm-span-a.img and the whole
# of lvm-span-b.img): a linear LV crossing the PV boundary and a striped LV.
run
echo ==== lvm
list-devices
list-filesystems
lvs
vgs
pvs
lvs-full
vgpvuuids data-vg
echo ==== lvs
vfs-label /dev/data-vg/big-lv
vfs-label /dev/data-vg/stripes
blockdev-getsize64 /dev/data-vg/big-lv
blockdev-getsize64 /dev/mapper/data--vg-stripes
mount-ro /dev/data-vg/big-lv /
checksum sha256 /big-file
umount /
mount-ro /dev/mapper/data--vg-stripes /
cat /hello.txt
checksum sha256 /stripe-blob
statvfs /
