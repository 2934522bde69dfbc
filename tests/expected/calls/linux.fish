# Read calls on the Linux test guest (GPT: ESP on sda1, ext4 root on sda2),
# run by guestfish and by gx-fish: every output must be the same.
run
echo ==== list-devices
list-devices
echo ==== list-partitions
list-partitions
echo ==== list-filesystems
list-filesystems
echo ==== vfs
vfs-type /dev/sda1
vfs-label /dev/sda1
vfs-uuid /dev/sda1
vfs-type /dev/sda2
vfs-uuid /dev/sda2
get-e2uuid /dev/sda2
echo ==== blockdev
blockdev-getsize64 /dev/sda
blockdev-getsize64 /dev/sda2
blockdev-getsz /dev/sda
blockdev-getss /dev/sda
blockdev-getro /dev/sda
echo ==== part
part-list /dev/sda
part-get-parttype /dev/sda
part-get-name /dev/sda 1
part-get-name /dev/sda 2
part-get-gpt-type /dev/sda 1
part-get-gpt-type /dev/sda 2
part-get-gpt-guid /dev/sda 2
part-get-disk-guid /dev/sda
part-get-bootable /dev/sda 1
part-get-bootable /dev/sda 2
part-get-mbr-part-type /dev/sda 1
part-to-dev /dev/sda2
part-to-partnum /dev/sda2
echo ==== mount
mount-ro /dev/sda2 /
mount-ro /dev/sda1 /boot/efi
mountpoints
mounts
echo ==== dirs
ls /etc
find /etc
readdir /etc/testdir
echo ==== stat
statns /etc/hostname
lstatns /etc/os-release
statns /etc/os-release
stat /etc/passwd
lstat /etc/mtab
lstatnslist /etc "hostname passwd os-release"
statvfs /
statvfs /boot/efi
echo ==== links
readlink /etc/os-release
readlinklist /etc "os-release mtab hostname"
realpath /etc/os-release
realpath /etc/../etc/./hostname
echo ==== tests
exists /etc/hostname
exists /etc/nope
exists /etc/mtab
is-file /etc/hostname
is-file /etc/os-release
is-file /etc/os-release followsymlinks:true
is-dir /etc
is-dir /etc/hostname
is-symlink /etc/os-release
is-symlink /etc/hostname
is-chardev /etc/testdir/chardev
is-blockdev /etc/testdir/blockdev
is-fifo /etc/testdir/fifo
is-socket /etc/hostname
filesize /etc/passwd
echo ==== contents
cat /etc/hostname
read-lines /etc/passwd
head /etc/passwd
head-n 2 /etc/passwd
head-n -3 /etc/passwd
head-n 0 /etc/passwd
tail /etc/passwd
tail-n 2 /etc/passwd
tail-n -3 /etc/passwd
wc-l /etc/passwd
wc-w /etc/passwd
wc-c /etc/passwd
pread /etc/hostname 4 2
download-offset /etc/passwd - 5 20
echo
echo ==== grep
grep root /etc/passwd
grep ^[a-d] /etc/passwd
grep x:[0-9]\{4\} /etc/passwd
grep (root|daemon) /etc/passwd extended:true
grep ROOT /etc/passwd insensitive:true
grep x:0: /etc/passwd fixed:true
egrep ^(bin|user) /etc/passwd
fgrep /bin/ /etc/passwd
grepi DAEMON /etc/passwd
echo ==== sums
checksum md5 /etc/passwd
checksum sha1 /etc/passwd
checksum sha256 /etc/passwd
checksum crc /etc/passwd
checksum sha512 /etc/hostname
du /etc
du /usr
case-sensitive-path /ETC/HOSTNAME
case-sensitive-path /Etc/NoSuchFile
echo ==== inspect
umount-all
inspect-os
inspect-get-type /dev/sda2
inspect-get-distro /dev/sda2
inspect-get-major-version /dev/sda2
inspect-get-minor-version /dev/sda2
inspect-get-product-name /dev/sda2
inspect-get-hostname /dev/sda2
inspect-get-arch /dev/sda2
inspect-get-package-format /dev/sda2
inspect-get-package-management /dev/sda2
inspect-get-mountpoints /dev/sda2
inspect-get-filesystems /dev/sda2
inspect-get-osinfo /dev/sda2
inspect-get-format /dev/sda2
inspect-get-roots
