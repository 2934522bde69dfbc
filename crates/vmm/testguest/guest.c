/*
 * gx-vmm test guest: a tiny freestanding 64-bit program that checks, from
 * inside the VM, what the VMM promised: the zero page and e820 map, the ACPI
 * tables (signatures, checksums, one LNRO0005 DSDT entry per virtio-mmio
 * device, the pvpanic QEMU0001 entry and its port), and the virtio-mmio
 * devices themselves (blk read/write/flush/get-id, a read through an
 * indirect descriptor table, a read-only disk refusing writes, the named
 * virtio-console port, rng). Every step prints one "GXTEST ..." line on COM1
 * for the host test to check; on success it powers off through the FADT's
 * sleep register, on failure it resets through the i8042.
 *
 * With "gxtest=panic" on the command line it stops after the ACPI checks and
 * reports a kernel panic through the pvpanic port the DSDT names, as Linux's
 * pvpanic driver would.
 *
 * It must stay tiny: on PVM hosts ring 0 is emulated at ~1.7 M instr/s.
 * No SSE (-mgeneral-regs-only), no libc.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

#define barrier() __asm__ __volatile__("" ::: "memory")

void *memset(void *d, int c, unsigned long n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

static inline void outb(u16 port, u8 v) { __asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 rd32(u64 a) { return *(volatile u32 *)a; }
static inline void wr32(u64 a, u32 v) { *(volatile u32 *)a = v; }

/* ---- serial ---- */
static void putc_(char c) { outb(0x3f8, (u8)c); }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(u64 v)
{
	char b[19];
	int i = 18;
	b[i] = 0;
	do {
		b[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v && i > 2);
	b[--i] = 'x';
	b[--i] = '0';
	puts_(&b[i]);
}
static void putdec(u64 v)
{
	char b[21];
	int i = 20;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_(&b[i]);
}

static void fail(const char *what, u64 v)
{
	puts_("GXTEST FAIL ");
	puts_(what);
	putc_(' ');
	puthex(v);
	putc_('\n');
	outb(0x64, 0xfe); /* i8042: pulse reset -> the VMM ends with Reset */
	for (;;)
		__asm__ __volatile__("hlt");
}

static void check(int ok, const char *what, u64 v)
{
	if (!ok)
		fail(what, v);
}

static u8 sum(const u8 *p, u32 n)
{
	u8 s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* ---- ACPI ---- */
#define MAXDEV 8
static u64 dev_base[MAXDEV];
static u32 dev_gsi[MAXDEV];
static int ndev;
static u16 sleep_port;
static u16 pvpanic_port;

static const u8 *check_table(u64 addr, const char *sig)
{
	const u8 *t = (const u8 *)addr;
	u32 len = *(const u32 *)(t + 4);
	check(memcmp(t, sig, 4) == 0, sig, addr);
	check(len >= 36 && len < 0x10000, "table length", len);
	check(sum(t, len) == 0, "table checksum", addr);
	return t;
}

static void acpi(u64 rsdp_addr)
{
	const u8 *rsdp = (const u8 *)rsdp_addr;
	check(memcmp(rsdp, "RSD PTR ", 8) == 0, "rsdp signature", rsdp_addr);
	check(sum(rsdp, 20) == 0, "rsdp checksum", 0);
	check(rsdp[15] >= 2 && sum(rsdp, 36) == 0, "rsdp extended checksum", rsdp[15]);
	const u8 *xsdt = check_table(*(const u64 *)(rsdp + 24), "XSDT");
	u32 n = (*(const u32 *)(xsdt + 4) - 36) / 8;
	const u8 *fadt = 0;
	int cpus = 0;
	for (u32 i = 0; i < n; i++) {
		const u8 *t = (const u8 *)*(const u64 *)(xsdt + 36 + 8 * i);
		if (memcmp(t, "FACP", 4) == 0) {
			fadt = check_table((u64)t, "FACP");
		} else if (memcmp(t, "APIC", 4) == 0) {
			const u8 *m = check_table((u64)t, "APIC");
			u32 len = *(const u32 *)(m + 4);
			for (u32 o = 44; o + 2 <= len && m[o + 1]; o += m[o + 1])
				if (m[o] == 0)
					cpus++;
		}
	}
	check(fadt != 0, "no FADT", 0);
	check(cpus >= 1, "no local APIC in MADT", 0);
	check((*(const u32 *)(fadt + 112) & (1u << 20)) != 0, "FADT not hardware-reduced", 0);
	check(fadt[244] == 1, "sleep control register not in I/O space", fadt[244]);
	sleep_port = (u16) * (const u64 *)(fadt + 248);
	const u8 *dsdt = check_table(*(const u64 *)(fadt + 140), "DSDT");
	u32 len = *(const u32 *)(dsdt + 4);
	for (u32 o = 36; o + 8 <= len; o++) {
		if (memcmp(dsdt + o, "LNRO0005", 8) != 0)
			continue;
		u64 base = 0;
		u32 gsi = 0;
		/* The _CRS that follows: Memory32Fixed (0x86, len 9), Interrupt (0x89, len 6). */
		for (u32 p = o + 8; p + 12 <= len && p < o + 96; p++) {
			if (!base && dsdt[p] == 0x86 && dsdt[p + 1] == 9 && dsdt[p + 2] == 0)
				base = *(const u32 *)(dsdt + p + 4);
			if (!gsi && dsdt[p] == 0x89 && dsdt[p + 1] == 6 && dsdt[p + 2] == 0)
				gsi = *(const u32 *)(dsdt + p + 5);
		}
		check(base != 0 && gsi != 0, "LNRO0005 without resources", o);
		check(ndev < MAXDEV, "too many devices", ndev);
		dev_base[ndev] = base;
		dev_gsi[ndev] = gsi;
		ndev++;
	}
	for (u32 o = 36; o + 8 <= len; o++) {
		if (memcmp(dsdt + o, "QEMU0001", 8) != 0)
			continue;
		/* Its _CRS: an I/O port descriptor (0x47, decode16, min, max, align, length). */
		for (u32 p = o + 8; p + 8 <= len && p < o + 64; p++) {
			if (dsdt[p] == 0x47 && dsdt[p + 1] == 1 && dsdt[p + 7] == 1) {
				pvpanic_port = *(const u16 *)(dsdt + p + 2);
				break;
			}
		}
	}
	puts_("GXTEST acpi ok cpus=");
	putdec(cpus);
	puts_(" virtio=");
	putdec(ndev);
	puts_(" sleep_port=");
	puthex(sleep_port);
	putc_('\n');
}

/* ---- virtio-mmio + split virtqueues ---- */
#define QSZ 8
struct desc { u64 addr; u32 len; u16 flags; u16 next; };
struct vq {
	u64 mmio;
	u32 index;
	struct desc *desc;
	volatile u16 *avail; /* flags, idx, ring[QSZ] */
	volatile u8 *used;   /* flags, idx, {id u32, len u32}[QSZ] */
	u16 next_desc, avail_idx, used_seen;
};
static u64 vq_mem = 0x400000; /* each queue gets 3 pages from here */

static u32 dev_init(u64 b, u32 want_type, u64 features)
{
	check(rd32(b + 0x000) == 0x74726976, "virtio magic", b);
	check(rd32(b + 0x004) == 2, "virtio-mmio version", rd32(b + 4));
	check(rd32(b + 0x008) == want_type, "device type", rd32(b + 8));
	wr32(b + 0x070, 0);
	wr32(b + 0x070, 1);
	wr32(b + 0x070, 1 | 2);
	wr32(b + 0x014, 1);
	u32 hi = rd32(b + 0x010);
	wr32(b + 0x014, 0);
	u32 lo = rd32(b + 0x010);
	check((hi & 1) != 0, "VERSION_1 not offered", hi);
	wr32(b + 0x024, 0);
	wr32(b + 0x020, (u32)features);
	wr32(b + 0x024, 1);
	wr32(b + 0x020, (u32)(features >> 32));
	wr32(b + 0x070, 1 | 2 | 8);
	check((rd32(b + 0x070) & 8) != 0, "FEATURES_OK refused", rd32(b + 0x070));
	return lo;
}

static void vq_setup(struct vq *q, u64 b, u32 index)
{
	q->mmio = b;
	q->index = index;
	q->desc = (struct desc *)vq_mem;
	q->avail = (volatile u16 *)(vq_mem + 0x1000);
	q->used = (volatile u8 *)(vq_mem + 0x2000);
	q->next_desc = q->avail_idx = q->used_seen = 0;
	vq_mem += 0x3000;
	wr32(b + 0x030, index);
	check(rd32(b + 0x034) >= QSZ, "queue too small", rd32(b + 0x034));
	wr32(b + 0x038, QSZ);
	wr32(b + 0x080, (u32)(u64)q->desc);
	wr32(b + 0x084, 0);
	wr32(b + 0x090, (u32)(u64)q->avail);
	wr32(b + 0x094, 0);
	wr32(b + 0x0a0, (u32)(u64)q->used);
	wr32(b + 0x0a4, 0);
	wr32(b + 0x044, 1);
}

static void dev_ready(u64 b)
{
	wr32(b + 0x070, 1 | 2 | 8 | 4);
	check((rd32(b + 0x070) & 0x40) == 0, "device needs reset", rd32(b + 0x070));
}

/* Post a chain of n buffers: (addr, len, writable). */
static void vq_post(struct vq *q, int n, const u64 *addr, const u32 *len, const int *w)
{
	u16 head = q->next_desc;
	for (int i = 0; i < n; i++) {
		u16 d = q->next_desc;
		q->next_desc = (u16)((q->next_desc + 1) % QSZ);
		q->desc[d].addr = addr[i];
		q->desc[d].len = len[i];
		q->desc[d].flags = (u16)((w[i] ? 2 : 0) | (i + 1 < n ? 1 : 0));
		q->desc[d].next = q->next_desc;
	}
	q->avail[2 + q->avail_idx % QSZ] = head;
	barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	barrier();
}

/* Post one descriptor naming an indirect table of n entries (VIRTQ_DESC_F_INDIRECT). */
static void vq_post_indirect(struct vq *q, const struct desc *table, u32 n)
{
	u16 d = q->next_desc;
	q->next_desc = (u16)((q->next_desc + 1) % QSZ);
	q->desc[d].addr = (u64)table;
	q->desc[d].len = 16 * n;
	q->desc[d].flags = 4;
	q->desc[d].next = 0;
	q->avail[2 + q->avail_idx % QSZ] = d;
	barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	barrier();
}

static void vq_kick(struct vq *q) { wr32(q->mmio + 0x050, q->index); }

/* Wait for the next used element; returns its length. Bounded: a port read
 * per round trip gives host threads time (ioeventfd completes asynchronously). */
static u32 vq_wait(struct vq *q, const char *what)
{
	for (u32 i = 0; i < 400000; i++) {
		barrier();
		u16 idx = *(volatile u16 *)(q->used + 2);
		if (idx != q->used_seen) {
			u32 slot = q->used_seen % QSZ;
			q->used_seen++;
			return *(volatile u32 *)(q->used + 4 + 8 * slot + 4);
		}
		(void)inb(0x3fd);
	}
	fail(what, q->index);
	return 0;
}

/* ---- virtio-blk ---- */
struct blk_req { u32 type; u32 reserved; u64 sector; };
static struct blk_req *breq = (struct blk_req *)0x500000;
static volatile u8 *bstatus = (volatile u8 *)0x500100;
static u8 *bbuf = (u8 *)0x501000;
static struct desc *btable = (struct desc *)0x502000;

static u8 blk_io(struct vq *q, u32 type, u64 sector, u32 len, int to_guest)
{
	breq->type = type;
	breq->reserved = 0;
	breq->sector = sector;
	*bstatus = 0xff;
	u64 a[3] = {(u64)breq, (u64)bbuf, (u64)bstatus};
	u32 l[3] = {16, len, 1};
	int w[3] = {0, to_guest, 1};
	if (len) {
		vq_post(q, 3, a, l, w);
	} else {
		u64 a2[2] = {(u64)breq, (u64)bstatus};
		u32 l2[2] = {16, 1};
		int w2[2] = {0, 1};
		vq_post(q, 2, a2, l2, w2);
	}
	vq_kick(q);
	vq_wait(q, "blk request timed out");
	return *bstatus;
}

static void blk(u64 b, int expect_ro)
{
	struct vq q;
	u64 f = 1ul << 32 | 1u << 9; /* VERSION_1 | FLUSH */
	u64 ring = 3u << 28;         /* INDIRECT_DESC | EVENT_IDX, on the writable disk */
	u32 lo = dev_init(b, 2, f | (expect_ro ? 1u << 5 : ring));
	check(!!(lo & (1u << 5)) == expect_ro, "VIRTIO_BLK_F_RO", lo);
	check((lo & ring) == ring, "INDIRECT_DESC/EVENT_IDX not offered", lo);
	vq_setup(&q, b, 0);
	dev_ready(b);
	u64 cap = (u64)rd32(b + 0x100) | ((u64)rd32(b + 0x104) << 32);
	check(blk_io(&q, 0, 0, 512, 1) == 0, "blk read status", *bstatus);
	char first[17];
	memcpy(first, bbuf, 16);
	first[16] = 0;
	for (int i = 0; i < 16; i++)
		if (first[i] < 32 || first[i] > 126)
			first[i] = 0;
	puts_("GXTEST blk");
	putdec(expect_ro);
	puts_(" capacity=");
	putdec(cap);
	puts_(" sector0=");
	puts_(first);
	putc_('\n');
	if (expect_ro) {
		memset(bbuf, 0x55, 512);
		u8 st = blk_io(&q, 1, 1, 512, 0);
		check(st == 1, "read-only disk accepted a write", st);
		puts_("GXTEST blk1 ro-write status=");
		putdec(st);
		putc_('\n');
		return;
	}
	memset(bbuf, 0, 512);
	memcpy(bbuf, "GUEST-WROTE-SECTOR-1", 20);
	check(blk_io(&q, 1, 1, 512, 0) == 0, "blk write status", *bstatus);
	check(blk_io(&q, 4, 0, 0, 0) == 0, "blk flush status", *bstatus);
	memset(bbuf, 0, 512);
	check(blk_io(&q, 0, 1, 512, 1) == 0, "blk read-back status", *bstatus);
	check(memcmp(bbuf, "GUEST-WROTE-SECTOR-1", 20) == 0, "blk read-back data", bbuf[0]);
	memset(bbuf, 0, 32);
	check(blk_io(&q, 8, 0, 20, 1) == 0, "blk get-id status", *bstatus);
	bbuf[20] = 0;
	puts_("GXTEST blk0 write+flush+readback ok id=");
	puts_((const char *)bbuf);
	putc_('\n');
	/* Read sector 1 again, the whole request in an indirect table. */
	breq->type = 0;
	breq->sector = 1;
	*bstatus = 0xff;
	memset(bbuf, 0, 512);
	btable[0] = (struct desc){(u64)breq, 16, 1, 1};
	btable[1] = (struct desc){(u64)bbuf, 512, 2 | 1, 2};
	btable[2] = (struct desc){(u64)bstatus, 1, 2, 0};
	vq_post_indirect(&q, btable, 3);
	vq_kick(&q);
	u32 got = vq_wait(&q, "indirect blk request timed out");
	check(*bstatus == 0 && got == 513, "indirect read status", *bstatus);
	check(memcmp(bbuf, "GUEST-WROTE-SECTOR-1", 20) == 0, "indirect read data", bbuf[0]);
	/* EVENT_IDX: the device writes avail_event (after the used ring) = the
	 * next avail index it will read, once it is done with the queue. */
	volatile u16 *avail_event = (volatile u16 *)(q.used + 4 + 8 * QSZ);
	for (u32 i = 0; i < 400000 && *avail_event != q.avail_idx; i++)
		(void)inb(0x3fd);
	check(*avail_event == q.avail_idx, "avail_event", *avail_event);
	puts_("GXTEST blk0 indirect read ok avail_event=");
	putdec(*avail_event);
	putc_('\n');
	/* Past the end of the disk must be an error, not a crash. */
	check(blk_io(&q, 0, cap, 512, 1) == 1, "blk read past end", *bstatus);
}

/* ---- virtio-console (multiport) ---- */
static u8 *cbuf = (u8 *)0x600000; /* 8 x 128-byte control rx buffers */
static u8 *ctx_msg = (u8 *)0x601000;
static u8 *prx = (u8 *)0x602000;
static u8 *ptx = (u8 *)0x603000;

static void ctrl_send(struct vq *ctl_tx, u32 id, u16 ev, u16 val)
{
	*(u32 *)ctx_msg = id;
	*(u16 *)(ctx_msg + 4) = ev;
	*(u16 *)(ctx_msg + 6) = val;
	u64 a = (u64)ctx_msg;
	u32 l = 8;
	int w = 0;
	vq_post(ctl_tx, 1, &a, &l, &w);
	vq_kick(ctl_tx);
	vq_wait(ctl_tx, "control tx timed out");
}

/* Wait for the next control message; returns its buffer (event at +4). */
static u8 *ctrl_recv(struct vq *ctl_rx, u32 *len)
{
	*len = vq_wait(ctl_rx, "control rx timed out");
	/* Read the element only after its index was published (the device may
	 * run concurrently on the VMM's I/O thread). */
	u16 slot = (u16)((ctl_rx->used_seen - 1) % QSZ);
	u32 id = *(volatile u32 *)(ctl_rx->used + 4 + 8 * slot);
	return cbuf + 128 * (id % QSZ);
}

static void console(u64 b, const char *want_name)
{
	struct vq rx0, tx0, crx, ctx, rx1, tx1;
	u32 lo = dev_init(b, 3, 1ul << 32 | 1u << 1);
	check((lo & 2) != 0, "MULTIPORT not offered", lo);
	u32 max_ports = rd32(b + 0x104);
	check(max_ports >= 2, "max_nr_ports", max_ports);
	vq_setup(&rx0, b, 0);
	vq_setup(&tx0, b, 1);
	vq_setup(&crx, b, 2);
	vq_setup(&ctx, b, 3);
	vq_setup(&rx1, b, 4);
	vq_setup(&tx1, b, 5);
	dev_ready(b);
	for (int i = 0; i < 4; i++) {
		u64 a = (u64)(cbuf + 128 * i);
		u32 l = 128;
		int w = 1;
		vq_post(&crx, 1, &a, &l, &w);
	}
	vq_kick(&crx);
	ctrl_send(&ctx, 0, 0 /* DEVICE_READY */, 1);
	u32 len;
	u8 *m = ctrl_recv(&crx, &len);
	check(*(u16 *)(m + 4) == 1 /* DEVICE_ADD */ && *(u32 *)m == 1, "expected PORT_ADD for port 1", *(u16 *)(m + 4));
	ctrl_send(&ctx, 1, 3 /* PORT_READY */, 1);
	int named = 0, opened = 0;
	for (int k = 0; k < 2; k++) {
		m = ctrl_recv(&crx, &len);
		u16 ev = *(u16 *)(m + 4);
		if (ev == 7 /* PORT_NAME */) {
			u32 n = len - 8;
			check(n < 100, "port name length", n);
			m[8 + n] = 0;
			check(memcmp(m + 8, want_name, n) == 0 && want_name[n] == 0, "port name", n);
			puts_("GXTEST console port1 name=");
			puts_((const char *)(m + 8));
			putc_('\n');
			named = 1;
		} else if (ev == 6 /* PORT_OPEN */) {
			check(*(u16 *)(m + 6) == 1, "host side not open", 0);
			opened = 1;
		}
	}
	check(named && opened, "PORT_NAME/PORT_OPEN missing", named * 2 + opened);
	/* Offer a receive buffer, open the port and say hello. */
	u64 a = (u64)prx;
	u32 l = 64;
	int w = 1;
	vq_post(&rx1, 1, &a, &l, &w);
	vq_kick(&rx1);
	ctrl_send(&ctx, 1, 6 /* PORT_OPEN */, 1);
	memcpy(ptx, "ping from guest\n", 16);
	a = (u64)ptx;
	l = 16;
	w = 0;
	vq_post(&tx1, 1, &a, &l, &w);
	vq_kick(&tx1);
	vq_wait(&tx1, "port tx timed out");
	u32 got = vq_wait(&rx1, "no reply from the host");
	check(got == 15 && memcmp(prx, "pong from host\n", 15) == 0, "host reply", got);
	puts_("GXTEST console exchange ok\n");
}

/* ---- virtio-rng ---- */
static void rng(u64 b)
{
	struct vq q;
	dev_init(b, 4, 1ul << 32);
	vq_setup(&q, b, 0);
	dev_ready(b);
	u8 *buf = (u8 *)0x700000;
	memset(buf, 0, 32);
	u64 a = (u64)buf;
	u32 l = 32;
	int w = 1;
	vq_post(&q, 1, &a, &l, &w);
	vq_kick(&q);
	u32 n = vq_wait(&q, "rng timed out");
	u32 nz = 0;
	for (int i = 0; i < 32; i++)
		nz += buf[i] != 0;
	check(n == 32 && nz > 8, "rng bytes", n);
	puts_("GXTEST rng ok\n");
}

void guest_main(u64 zero_page)
{
	const u8 *zp = (const u8 *)zero_page;
	puts_("GXTEST start\n");
	u8 e820 = zp[0x1e8];
	u64 rsdp = *(const u64 *)(zp + 0x70);
	check(e820 >= 3, "e820 entries", e820);
	/* The first e820 entry is low RAM from 0. */
	check(*(const u64 *)(zp + 0x2d0) == 0 && *(const u32 *)(zp + 0x2d0 + 16) == 1, "e820[0]", 0);
	puts_("GXTEST zeropage e820=");
	putdec(e820);
	puts_(" rsdp=");
	puthex(rsdp);
	putc_('\n');
	acpi(rsdp);
	check(pvpanic_port != 0, "no pvpanic (QEMU0001) port in the DSDT", 0);
	u8 events = inb(pvpanic_port);
	check(events == 3, "pvpanic events (PANICKED|CRASH_LOADED)", events);
	puts_("GXTEST pvpanic port=");
	puthex(pvpanic_port);
	puts_(" events=");
	puthex(events);
	putc_('\n');
	const char *cmdline = (const char *)(u64) * (const u32 *)(zp + 0x228);
	for (; *cmdline; cmdline++) {
		if (memcmp(cmdline, "gxtest=panic", 12) == 0) {
			puts_("GXTEST panicking\n");
			outb(pvpanic_port, 1); /* PVPANIC_PANICKED: the VMM ends with Panic */
			fail("still running after pvpanic", 0);
		}
	}
	int blk_seen = 0;
	for (int i = 0; i < ndev; i++) {
		u64 b = dev_base[i];
		u32 type = rd32(b + 8);
		puts_("GXTEST dev ");
		puthex(b);
		puts_(" gsi=");
		putdec(dev_gsi[i]);
		puts_(" type=");
		putdec(type);
		putc_('\n');
		if (type == 2)
			blk(b, blk_seen++);
		else if (type == 3)
			console(b, "org.guestx.channel.0");
		else if (type == 4)
			rng(b);
	}
	puts_("GXTEST PASS\n");
	outb(sleep_port, (5 << 2) | (1 << 5));
	fail("still running after power-off", 0);
}
