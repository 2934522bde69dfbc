# Read calls on the Windows test guest (MBR, NTFS on sda1... as built).
run
echo ==== disks
list-filesystems
part-list /dev/sda
part-get-parttype /dev/sda
part-get-mbr-id /dev/sda 1
part-get-mbr-part-type /dev/sda 1
part-get-bootable /dev/sda 1
echo ==== inspect
inspect-os
inspect-get-type /dev/sda1
inspect-get-distro /dev/sda1
inspect-get-product-name /dev/sda1
inspect-get-product-variant /dev/sda1
inspect-get-major-version /dev/sda1
inspect-get-minor-version /dev/sda1
inspect-get-windows-systemroot /dev/sda1
inspect-get-windows-software-hive /dev/sda1
inspect-get-windows-system-hive /dev/sda1
inspect-get-windows-current-control-set /dev/sda1
inspect-get-drive-mappings /dev/sda1
inspect-get-mountpoints /dev/sda1
inspect-get-hostname /dev/sda1
inspect-get-osinfo /dev/sda1
echo ==== files
mount-ro /dev/sda1 /
case-sensitive-path /windows/system32/CONFIG/software
ls /Windows
# ntfs-3g looks names up case-sensitively, our NTFS reader as Windows does:
# no mixed-case lookups here.
is-dir /Windows
exists /Windows
statvfs /
lstatns /Windows
checksum md5 "/Program Files/7-Zip/readme.txt"
cat "/Program Files/7-Zip/readme.txt"
ls /Users/test/Documents
readdir /Windows
lstatns /Windows/System32/cmd.exe
