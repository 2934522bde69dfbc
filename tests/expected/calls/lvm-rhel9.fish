# Read calls on the RHEL 9 style guest (GPT: ESP on sda1, XFS /boot on sda2,
# a PV on sda3 with VG rhel: root XFS, swap), run by guestfish and by gx-fish
# on both engines: every output must be the same.
run
echo ==== devices
list-devices
list-partitions
list-filesystems
part-list /dev/sda
part-get-name /dev/sda 1
part-get-gpt-type /dev/sda 3
echo ==== lvm
lvs
vgs
pvs
lvs-full
vgs-full
pvs-full
lvuuid /dev/rhel/root
vglvuuids rhel
lvm-canonical-lv-name /dev/mapper/rhel-swap
echo ==== filesystems
vfs-type /dev/sda1
vfs-uuid /dev/sda1
vfs-type /dev/sda2
vfs-uuid /dev/sda2
vfs-label /dev/sda2
vfs-type /dev/rhel/root
vfs-uuid /dev/rhel/root
vfs-type /dev/rhel/swap
blockdev-getsize64 /dev/rhel/root
blockdev-getsize64 /dev/mapper/rhel-swap
echo ==== mounts
mount-ro /dev/mapper/rhel-root /
mount-ro /dev/sda2 /boot
mount-ro /dev/sda1 /boot/efi
mountpoints
ls /
ls /etc
cat /etc/os-release
cat /etc/fstab
readlink /bin
readlink /etc/system-release
readlink /usr/share/icons/hicolor/96x96/apps/system-logo-icon.png
checksum sha256 /usr/share/icons/hicolor/96x96/apps/system-logo-icon.png
checksum sha256 /usr/bin/ls
filesize /var/lib/rpm/rpmdb.sqlite
checksum sha256 /var/lib/rpm/rpmdb.sqlite
is-symlink /lib64
is-dir /usr/lib64
statvfs /
statvfs /boot
ls /boot
ls /boot/loader/entries
cat /boot/grub2/grub.cfg
ls /boot/efi/EFI/redhat
checksum sha1 /boot/efi/EFI/BOOT/BOOTX64.EFI
umount-all
echo ==== inspection
inspect-os
inspect-get-distro /dev/rhel/root
inspect-get-product-name /dev/rhel/root
inspect-get-major-version /dev/rhel/root
inspect-get-minor-version /dev/rhel/root
inspect-get-package-management /dev/rhel/root
inspect-get-mountpoints /dev/rhel/root
