# Read calls on the XFS test image (a whole-disk filesystem). No stat device
# numbers: libguestfs's appliance shows this disk as 8:0 or 8:16 from run to run.
run
list-filesystems
vfs-type /dev/sda
vfs-label /dev/sda
vfs-uuid /dev/sda
mount-ro /dev/sda /
ls /
filesize /files/owned
cat /files/small.txt
checksum sha1 /files/odd.bin
readlink /links/short
du /files
