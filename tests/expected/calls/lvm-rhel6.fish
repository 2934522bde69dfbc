# Read calls on the RHEL 6 style LVM guest (MBR: ext4 /boot on sda1, a PV on
# sda2 with VG vg_rhel6: lv_root ext4, lv_swap), run by guestfish and by
# gx-fish on both engines: every output must be the same.
run
echo ==== devices
list-devices
list-partitions
list-filesystems
echo ==== lvm
lvs
vgs
pvs
lvs-full
vgs-full
pvs-full
lvuuid /dev/vg_rhel6/lv_root
vguuid vg_rhel6
pvuuid /dev/sda2
vglvuuids vg_rhel6
vgpvuuids vg_rhel6
lvm-canonical-lv-name /dev/mapper/vg_rhel6-lv_swap
lvm-canonical-lv-name /dev/vg_rhel6/lv_root
is-lv /dev/vg_rhel6/lv_root
is-lv /dev/mapper/vg_rhel6-lv_swap
is-lv /dev/sda2
echo ==== lv as a block device
vfs-type /dev/vg_rhel6/lv_root
vfs-label /dev/vg_rhel6/lv_root
vfs-uuid /dev/vg_rhel6/lv_root
vfs-type /dev/mapper/vg_rhel6-lv_swap
vfs-uuid /dev/mapper/vg_rhel6-lv_swap
blockdev-getsize64 /dev/vg_rhel6/lv_root
blockdev-getsize64 /dev/vg_rhel6/lv_swap
blockdev-getsz /dev/vg_rhel6/lv_root
blockdev-getss /dev/vg_rhel6/lv_root
blockdev-getro /dev/vg_rhel6/lv_root
echo ==== mounts
mount-ro /dev/mapper/vg_rhel6-lv_root /
mount-ro /dev/sda1 /boot
mountpoints
ls /
cat /etc/redhat-release
cat /etc/fstab
checksum sha256 /bin/ls
filesize /var/lib/rpm/Packages
checksum md5 /var/lib/rpm/Packages
statvfs /
statvfs /boot
ls /boot/grub
is-file /boot/grub/grub.conf
umount-all
echo ==== inspection
inspect-os
inspect-get-distro /dev/vg_rhel6/lv_root
inspect-get-product-name /dev/vg_rhel6/lv_root
inspect-get-hostname /dev/vg_rhel6/lv_root
inspect-get-mountpoints /dev/vg_rhel6/lv_root
inspect-get-filesystems /dev/vg_rhel6/lv_root
