/*
 * /init for the hardware-KVM boot test: proves a stock kernel reached user
 * space on gx-vmm, found the virtio-mmio devices through ACPI, and can power
 * the VM off through ACPI. Built with `gcc -static`.
 */
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	struct stat st;
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	printf("GX-INIT started\n");
	printf("GX-INIT acpi-virtio %s\n",
	       stat("/sys/bus/acpi/devices/LNRO0005:00", &st) == 0 ? "found" : "missing");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 1;
}
