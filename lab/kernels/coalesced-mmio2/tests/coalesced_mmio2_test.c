// SPDX-License-Identifier: GPL-2.0
/*
 * coalesced_mmio2_test: tests the coalesced MMIO buffer API (KVM_CAP_COALESCED_MMIO2,
 * KVM_CREATE_COALESCED_MMIO_BUFFER, KVM_(UN)REGISTER_COALESCED_MMIO2) of the patch in
 * this directory, directly through the ioctls, with a tiny real-mode guest making the
 * writes.  Output is TAP (kselftest style); exit 0 = every test passed, 1 = a test
 * failed, 4 = skipped because the kernel lacks the API.
 *
 * Self-contained: the v2 uapi is defined here when <linux/kvm.h> lacks it, so it builds
 * against older kernel headers.  Independent of cmmio, it checks the same rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KVM_CREATE_COALESCED_MMIO_BUFFER
struct kvm_coalesced_mmio_zone2 {
	__u64 addr;
	__u32 size;
	union {
		__u32 pad;
		__u32 pio;
	};
	__u32 buffer_fd;
};
#define KVM_CREATE_COALESCED_MMIO_BUFFER _IO(KVMIO, 0xd6)
#define KVM_REGISTER_COALESCED_MMIO2 _IOW(KVMIO, 0xd7, struct kvm_coalesced_mmio_zone2)
#define KVM_UNREGISTER_COALESCED_MMIO2 _IOW(KVMIO, 0xd8, struct kvm_coalesced_mmio_zone2)
#endif
#ifndef KVM_CAP_COALESCED_MMIO2
#define KVM_CAP_COALESCED_MMIO2 239
#endif

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

#define CODE_GPA 0x1000
#define MEM_SIZE 0x2000
/* Zones lie below 64 KiB, where a real-mode mov reaches, and outside the memory slot. */
#define ZONE_A 0x8000
#define ZONE_B 0x9000
#define ZONE_V1 0xa000
#define PORT 0x80

static long page_size;
static unsigned int ring_max; /* KVM_COALESCED_MMIO_MAX: entries in one ring page */
static int test_number;
static int failures;

/* ---- TAP ---- */

static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (!ok) {
		printf("#   FAILED: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	return ok;
}

static void result(bool ok, const char *name)
{
	printf("%s %d %s\n", ok ? "ok" : "not ok", ++test_number, name);
	if (!ok)
		failures++;
	fflush(stdout);
}

static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(KSFT_FAIL);
}

/* ---- a VM with one vCPU in real mode ---- */

struct vm {
	int kvm, fd, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	struct kvm_coalesced_mmio_ring *v1_ring;
};

/* One write the guest makes: MMIO (mov byte [addr], imm8) or PIO (out dx, al). */
struct write {
	bool pio;
	uint16_t addr;
	uint8_t data;
};

/* What reached userspace as an exit, or sat in a ring. */
struct seen {
	bool pio;
	uint64_t addr;
	uint32_t len;
	uint8_t data;
};

static void vm_open(struct vm *vm)
{
	struct kvm_userspace_memory_region region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 2, .rip = CODE_GPA };
	int offset;

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		die("open /dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED)
		die("mmap guest memory");
	region.memory_size = MEM_SIZE;
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION");
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		die("KVM_CREATE_VCPU");
	vm->run_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu, 0);
	if (vm->run == MAP_FAILED)
		die("mmap kvm_run");
	offset = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (offset <= 0)
		die("KVM_CAP_COALESCED_MMIO");
	vm->v1_ring = (void *)((char *)vm->run + offset * page_size);
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs.base = sregs.cs.selector = 0;
	sregs.ds.base = sregs.ds.selector = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs) || ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_SREGS/KVM_SET_REGS");
}

static void vm_close(struct vm *vm)
{
	munmap(vm->run, vm->run_size);
	munmap(vm->mem, MEM_SIZE);
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
}

/*
 * Runs the guest through @n writes and a hlt, from the start.  Returns the number of
 * writes that exited to userspace, stored in @exits, or -1 on an unexpected exit.
 */
static int vm_write(struct vm *vm, const struct write *writes, int n, struct seen *exits)
{
	uint8_t *code = vm->mem + CODE_GPA;
	struct kvm_regs regs = { .rflags = 2, .rip = CODE_GPA };
	int i, count = 0;

	for (i = 0; i < n; i++) {
		if (writes[i].pio) {
			*code++ = 0xba; /* mov dx, imm16 */
			*code++ = writes[i].addr & 0xff;
			*code++ = writes[i].addr >> 8;
			*code++ = 0xb0; /* mov al, imm8 */
			*code++ = writes[i].data;
			*code++ = 0xee; /* out dx, al */
		} else {
			*code++ = 0xc6; /* mov byte [imm16], imm8 */
			*code++ = 0x06;
			*code++ = writes[i].addr & 0xff;
			*code++ = writes[i].addr >> 8;
			*code++ = writes[i].data;
		}
		if (code - vm->mem > MEM_SIZE - 16) {
			errno = E2BIG;
			die("guest code");
		}
	}
	*code = 0xf4; /* hlt */
	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");

	for (;;) {
		if (ioctl(vm->vcpu, KVM_RUN, 0))
			die("KVM_RUN");
		switch (vm->run->exit_reason) {
		case KVM_EXIT_HLT:
			return count;
		case KVM_EXIT_MMIO:
			if (!vm->run->mmio.is_write || count >= n)
				return -1;
			exits[count++] = (struct seen){ false, vm->run->mmio.phys_addr,
							vm->run->mmio.len, vm->run->mmio.data[0] };
			break;
		case KVM_EXIT_IO:
			if (vm->run->io.direction != KVM_EXIT_IO_OUT || count >= n)
				return -1;
			exits[count++] = (struct seen){ true, vm->run->io.port, vm->run->io.size,
							*((uint8_t *)vm->run + vm->run->io.data_offset) };
			break;
		default:
			printf("#   unexpected exit reason %u\n", vm->run->exit_reason);
			return -1;
		}
	}
}

/* ---- the v2 API ---- */

static int buffer_create(struct vm *vm)
{
	return ioctl(vm->fd, KVM_CREATE_COALESCED_MMIO_BUFFER, 0);
}

static struct kvm_coalesced_mmio_ring *buffer_map(int fd)
{
	void *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* 0, or the errno of the ioctl. */
static int zone2(struct vm *vm, unsigned long ioctl_nr, uint64_t addr, uint32_t size,
		 uint32_t pio, int buffer_fd)
{
	struct kvm_coalesced_mmio_zone2 zone = {
		.addr = addr, .size = size, .pio = pio, .buffer_fd = (__u32)buffer_fd,
	};

	return ioctl(vm->fd, ioctl_nr, &zone) ? errno : 0;
}

static int reg2(struct vm *vm, uint64_t addr, uint32_t size, uint32_t pio, int fd)
{
	return zone2(vm, KVM_REGISTER_COALESCED_MMIO2, addr, size, pio, fd);
}

static int unreg2(struct vm *vm, uint64_t addr, uint32_t size, uint32_t pio, int fd)
{
	return zone2(vm, KVM_UNREGISTER_COALESCED_MMIO2, addr, size, pio, fd);
}

static unsigned int ring_pending(struct kvm_coalesced_mmio_ring *ring)
{
	unsigned int first = __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE);
	unsigned int last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);

	return (last + ring_max - first) % ring_max;
}

/* Whether entry @i of @ring (counted from first) is @want. */
static bool ring_entry_is(struct kvm_coalesced_mmio_ring *ring, unsigned int i,
			  const struct write *want)
{
	struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[(ring->first + i) % ring_max];

	return check(e->phys_addr == want->addr && e->len == 1 && e->pio == want->pio &&
		     e->data[0] == want->data,
		     "entry %u is {0x%llx len %u pio %u data 0x%x}, wanted {0x%x len 1 pio %d data 0x%x}",
		     i, (unsigned long long)e->phys_addr, e->len, e->pio, e->data[0], want->addr,
		     want->pio, want->data);
}

static bool exit_is(const struct seen *seen, const struct write *want)
{
	return check(seen->pio == want->pio && seen->addr == want->addr && seen->len == 1 &&
		     seen->data == want->data,
		     "exit is {%s 0x%llx len %u data 0x%x}, wanted {%s 0x%x len 1 data 0x%x}",
		     seen->pio ? "pio" : "mmio", (unsigned long long)seen->addr, seen->len,
		     seen->data, want->pio ? "pio" : "mmio", want->addr, want->data);
}

static short poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 0) < 0)
		die("poll");
	return p.revents;
}

static char *link_of(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, size - 1);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

/* ---- tests ---- */

static void test_create(void)
{
	struct vm vm;
	char target[PATH_MAX];
	int fd, flags, fdflags, cap;
	bool ok = true;

	vm_open(&vm);
	fd = buffer_create(&vm);
	ok &= check(fd >= 0, "KVM_CREATE_COALESCED_MMIO_BUFFER: %s", strerror(errno));
	if (fd >= 0) {
		ok &= check(!strcmp(link_of(fd, target, sizeof(target)),
				    "anon_inode:coalesced_mmio_buf"),
			    "fd links to '%s'", target);
		flags = fcntl(fd, F_GETFL);
		fdflags = fcntl(fd, F_GETFD);
		ok &= check((flags & O_ACCMODE) == O_RDWR, "access mode 0x%x, wanted O_RDWR",
			    flags & O_ACCMODE);
		ok &= check(fdflags & FD_CLOEXEC, "FD_CLOEXEC not set");
		close(fd);
	}
	cap = ioctl(vm.fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO2);
	ok &= check(cap == 1, "KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO2) on the VM = %d", cap);
	cap = ioctl(vm.kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO2);
	ok &= check(cap == 1, "KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO2) on /dev/kvm = %d", cap);
	vm_close(&vm);
	result(ok, "create: an O_RDWR|O_CLOEXEC anon_inode:coalesced_mmio_buf fd; capability 239 = 1");
}

static void test_map(void)
{
	struct kvm_coalesced_mmio_ring *ring, *again;
	struct vm vm;
	void *p;
	bool ok = true;
	int fd;

	vm_open(&vm);
	fd = buffer_create(&vm);
	if (fd < 0)
		die("KVM_CREATE_COALESCED_MMIO_BUFFER");

	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ok &= check(p == MAP_FAILED && errno == EINVAL, "private mapping: %s",
		    p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok &= check(p == MAP_FAILED && errno == EINVAL, "two-page mapping: %s",
		    p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, page_size);
	ok &= check(p == MAP_FAILED && errno == EINVAL, "mapping at offset 1 page: %s",
		    p == MAP_FAILED ? strerror(errno) : "mapped");

	ring = buffer_map(fd);
	ok &= check(ring != NULL, "mmap: %s", strerror(errno));
	if (ring) {
		ok &= check(ring->first == 0 && ring->last == 0, "fresh ring first %u last %u",
			    ring->first, ring->last);
		again = buffer_map(fd);
		ok &= check(!again && errno == EBUSY, "second mmap: %s",
			    again ? "mapped" : strerror(errno));
		/* Dirty the ring; after munmap a new mapping must be a fresh, zeroed page. */
		ring->first = 5;
		ring->last = 5;
		munmap(ring, page_size);
		ring = buffer_map(fd);
		ok &= check(ring && ring->first == 0 && ring->last == 0,
			    "mapping again after munmap: %s",
			    ring ? "ring not zeroed" : strerror(errno));
		if (ring)
			munmap(ring, page_size);
	}
	close(fd);
	vm_close(&vm);
	result(ok, "map: one zeroed shared page; second mmap EBUSY; private, long, offset EINVAL; "
		   "remap after munmap is fresh");
}

static void test_register_errors(void)
{
	struct vm vm, other;
	int fd, closed_fd, other_fd, null_fd, r;
	bool ok = true;

	vm_open(&vm);
	vm_open(&other);
	fd = buffer_create(&vm);
	other_fd = buffer_create(&other);
	if (fd < 0 || other_fd < 0)
		die("KVM_CREATE_COALESCED_MMIO_BUFFER");

	r = reg2(&vm, ZONE_A, 0x10, 0, fd);
	ok &= check(r == ENOBUFS, "never-mapped buffer: %s, wanted ENOBUFS", strerror(r));
	if (!buffer_map(fd) || !buffer_map(other_fd))
		die("mmap");

	closed_fd = dup(fd);
	close(closed_fd);
	r = reg2(&vm, ZONE_A, 0x10, 0, closed_fd);
	ok &= check(r == EBADF, "closed fd: %s, wanted EBADF", strerror(r));
	r = reg2(&vm, ZONE_A, 0x10, 0, -1);
	ok &= check(r == EBADF, "fd -1: %s, wanted EBADF", strerror(r));
	null_fd = open("/dev/null", O_RDWR);
	r = reg2(&vm, ZONE_A, 0x10, 0, null_fd);
	ok &= check(r == EINVAL, "/dev/null: %s, wanted EINVAL", strerror(r));
	close(null_fd);
	r = reg2(&vm, ZONE_A, 0x10, 0, vm.fd);
	ok &= check(r == EINVAL, "the VM fd: %s, wanted EINVAL", strerror(r));
	r = reg2(&vm, ZONE_A, 0x10, 0, other_fd);
	ok &= check(r == EINVAL, "another VM's buffer: %s, wanted EINVAL", strerror(r));
	r = reg2(&vm, PORT, 1, 2, fd);
	ok &= check(r == EINVAL, "pio 2: %s, wanted EINVAL", strerror(r));
	r = reg2(&vm, PORT, 1, 0xffffffff, fd);
	ok &= check(r == EINVAL, "pio 0xffffffff: %s, wanted EINVAL", strerror(r));
	r = reg2(&vm, ZONE_A, 0x10, 0, fd);
	ok &= check(r == 0, "mapped buffer: %s", strerror(r));

	close(fd);
	close(other_fd);
	vm_close(&vm);
	vm_close(&other);
	result(ok, "register2 errors: ENOBUFS unmapped, EBADF bad fd, EINVAL other fd/other VM/pio");
}

/* A blocked poller, to see that a coalesced write wakes it up. */
struct poller {
	int fd;
	short revents;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	if (poll(&pfd, 1, 60000) > 0)
		p->revents = pfd.revents;
	return NULL;
}

static void test_landing_and_poll(void)
{
	struct kvm_coalesced_mmio_ring *ring_a, *ring_b;
	struct kvm_coalesced_mmio_zone v1 = { .addr = ZONE_V1, .size = 0x10 };
	const struct write writes[] = {
		{ false, ZONE_A, 0x11 },	/* buffer A */
		{ false, ZONE_B + 4, 0x22 },	/* buffer B */
		{ true, PORT, 0x33 },		/* buffer B, PIO */
		{ false, ZONE_A + 0x10, 0x44 },	/* just past zone A: exits */
		{ false, ZONE_V1 + 8, 0x55 },	/* v1 zone: the VM-wide ring */
		{ false, ZONE_A + 0xf, 0x66 },	/* buffer A, last byte */
	};
	struct seen exits[8];
	struct poller poller;
	pthread_t thread;
	struct vm vm;
	int a, b, c, n;
	bool ok = true, poll_ok = true;

	vm_open(&vm);
	a = buffer_create(&vm);
	b = buffer_create(&vm);
	c = buffer_create(&vm);
	if (a < 0 || b < 0 || c < 0)
		die("KVM_CREATE_COALESCED_MMIO_BUFFER");
	poll_ok &= check(poll_now(a) == 0, "unmapped buffer polls 0x%x", poll_now(a));
	ring_a = buffer_map(a);
	ring_b = buffer_map(b);
	if (!ring_a || !ring_b)
		die("mmap");
	poll_ok &= check(poll_now(a) == 0, "empty mapped ring polls 0x%x", poll_now(a));
	if (reg2(&vm, ZONE_A, 0x10, 0, a) || reg2(&vm, ZONE_B, 0x10, 0, b) ||
	    reg2(&vm, PORT, 1, 1, b) || ioctl(vm.fd, KVM_REGISTER_COALESCED_MMIO, &v1))
		die("register");

	poller.fd = a;
	poller.revents = 0;
	if (pthread_create(&thread, NULL, poll_thread, &poller))
		die("pthread_create");
	usleep(200000); /* let it block in poll() */

	n = vm_write(&vm, writes, 6, exits);
	pthread_join(thread, NULL);

	ok &= check(n == 1, "%d writes exited, wanted 1", n);
	if (n >= 1)
		ok &= exit_is(&exits[0], &writes[3]);
	ok &= check(ring_pending(ring_a) == 2, "buffer A holds %u entries, wanted 2",
		    ring_pending(ring_a));
	if (ring_pending(ring_a) == 2)
		ok &= ring_entry_is(ring_a, 0, &writes[0]) & ring_entry_is(ring_a, 1, &writes[5]);
	ok &= check(ring_pending(ring_b) == 2, "buffer B holds %u entries, wanted 2",
		    ring_pending(ring_b));
	if (ring_pending(ring_b) == 2)
		ok &= ring_entry_is(ring_b, 0, &writes[1]) & ring_entry_is(ring_b, 1, &writes[2]);
	ok &= check(ring_pending(vm.v1_ring) == 1, "VM-wide ring holds %u entries, wanted 1",
		    ring_pending(vm.v1_ring));
	if (ring_pending(vm.v1_ring) == 1)
		ok &= ring_entry_is(vm.v1_ring, 0, &writes[4]);
	result(ok, "landing: each zone's writes in its own buffer's ring only, v1 zone in the "
		   "VM-wide ring, a write past the zone exits");

	poll_ok &= check(poller.revents & POLLIN, "the blocked poller got 0x%x", poller.revents);
	poll_ok &= check(poll_now(a) & POLLIN, "A with entries polls 0x%x", poll_now(a));
	poll_ok &= check(poll_now(b) & POLLIN, "B with entries polls 0x%x", poll_now(b));
	poll_ok &= check(poll_now(c) == 0, "never-mapped C polls 0x%x", poll_now(c));
	__atomic_store_n(&ring_a->first, ring_a->last, __ATOMIC_RELEASE);
	poll_ok &= check(poll_now(a) == 0, "drained A polls 0x%x", poll_now(a));
	poll_ok &= check(poll_now(b) & POLLIN, "undrained B polls 0x%x", poll_now(b));
	munmap(ring_b, page_size);
	poll_ok &= check(poll_now(b) == 0, "unmapped B polls 0x%x", poll_now(b));
	result(poll_ok, "poll: POLLIN exactly when mapped and first != last; a guest write wakes "
			"a blocked poller");

	close(a);
	close(b);
	close(c);
	munmap(ring_a, page_size);
	vm_close(&vm);
}

/* The ring takes ring_max - 1 writes from any starting index; the next one exits. */
static void test_capacity(void)
{
	const unsigned int starts[] = { 0, 1, 84, 85, 86, 168, 169 };
	struct kvm_coalesced_mmio_ring *ring;
	struct write *writes;
	struct seen *exits;
	unsigned int s, i, start;
	struct vm vm;
	bool ok = true;
	int fd, n;

	ok &= check(page_size != 4096 || ring_max == 170, "ring_max %u", ring_max);
	writes = calloc(ring_max, sizeof(*writes));
	exits = calloc(ring_max, sizeof(*exits));
	if (!writes || !exits)
		die("calloc");
	for (i = 0; i < ring_max; i++)
		writes[i] = (struct write){ true, PORT, (uint8_t)(i * 7 + 1) };

	for (s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		start = starts[s];
		vm_open(&vm);
		fd = buffer_create(&vm);
		ring = fd < 0 ? NULL : buffer_map(fd);
		if (!ring)
			die("buffer");
		ring->first = ring->last = start;
		if (reg2(&vm, PORT, 1, 1, fd))
			die("register");
		n = vm_write(&vm, writes, ring_max, exits);
		ok &= check(n == 1, "start %u: %d writes exited, wanted 1", start, n);
		if (n == 1)
			ok &= exit_is(&exits[0], &writes[ring_max - 1]);
		ok &= check(ring_pending(ring) == ring_max - 1, "start %u: %u entries, wanted %u",
			    start, ring_pending(ring), ring_max - 1);
		for (i = 0; ok && i < ring_max - 1; i++)
			ok &= ring_entry_is(ring, i, &writes[i]);
		munmap(ring, page_size);
		close(fd);
		vm_close(&vm);
	}
	free(writes);
	free(exits);
	printf("# capacity %u entries (ring_max %u, page %ld)\n", ring_max - 1, ring_max, page_size);
	result(ok, "capacity: 169 entries on 4 KiB pages from every tested start, the 170th exits");
}

static void test_unregister(void)
{
	struct kvm_coalesced_mmio_ring *ring_a, *ring_b;
	const struct write wa = { false, ZONE_A + 4, 0x77 }, wb = { false, ZONE_B, 0x88 };
	const struct write both[] = { wa, wb };
	struct seen exits[2];
	struct vm vm;
	int a, b, r, n;
	bool ok = true;

	vm_open(&vm);
	a = buffer_create(&vm);
	b = buffer_create(&vm);
	ring_a = a < 0 ? NULL : buffer_map(a);
	ring_b = b < 0 ? NULL : buffer_map(b);
	if (!ring_a || !ring_b)
		die("buffer");
	if (reg2(&vm, ZONE_A, 0x10, 0, a) || reg2(&vm, ZONE_B, 0x10, 0, b))
		die("register");

	/* Partial overlap, superset, other kind: nothing goes, and no error. */
	r = unreg2(&vm, ZONE_A + 8, 0x10, 0, a);
	r |= unreg2(&vm, ZONE_A - 0x10, 0x30, 0, a);
	r |= unreg2(&vm, ZONE_A, 0x10, 1, a);
	ok &= check(r == 0, "non-matching unregisters: %s", strerror(r));
	n = vm_write(&vm, both, 2, exits);
	ok &= check(n == 0 && ring_pending(ring_a) == 1 && ring_pending(ring_b) == 1,
		    "after non-matching unregisters: %d exits, A %u, B %u entries", n,
		    ring_pending(ring_a), ring_pending(ring_b));

	/* A sub-range, through the other buffer's fd: zone A goes, zone B stays. */
	r = unreg2(&vm, ZONE_A + 2, 2, 0, b);
	ok &= check(r == 0, "unregister sub-range: %s", strerror(r));
	n = vm_write(&vm, both, 2, exits);
	ok &= check(n == 1 && ring_pending(ring_a) == 1 && ring_pending(ring_b) == 2,
		    "after removing zone A: %d exits, A %u, B %u entries", n,
		    ring_pending(ring_a), ring_pending(ring_b));
	if (n == 1)
		ok &= exit_is(&exits[0], &wa);

	/* With a bad buffer_fd (ignored), and again when nothing matches: still 0. */
	r = unreg2(&vm, ZONE_B, 0x10, 0, -1);
	ok &= check(r == 0, "unregister with buffer_fd -1: %s", strerror(r));
	r = unreg2(&vm, ZONE_B, 0x10, 0, -1);
	ok &= check(r == 0, "unregister of nothing: %s", strerror(r));
	r = unreg2(&vm, ZONE_B, 0x10, 2, b);
	ok &= check(r == EINVAL, "unregister pio 2: %s, wanted EINVAL", strerror(r));
	n = vm_write(&vm, both, 2, exits);
	ok &= check(n == 2, "after removing zone B: %d exits, wanted 2", n);

	close(a);
	close(b);
	munmap(ring_a, page_size);
	munmap(ring_b, page_size);
	vm_close(&vm);
	result(ok, "unregister2: ignores buffer_fd, removes only zones that fully contain the "
		   "range, 0 even when none did");
}

static void test_unmap(void)
{
	struct kvm_coalesced_mmio_ring *ring;
	const struct write w = { false, ZONE_A, 0x99 };
	struct seen exits[1];
	struct vm vm;
	bool ok = true;
	int fd, n;

	vm_open(&vm);
	fd = buffer_create(&vm);
	ring = fd < 0 ? NULL : buffer_map(fd);
	if (!ring || reg2(&vm, ZONE_A, 0x10, 0, fd))
		die("buffer");
	munmap(ring, page_size);
	n = vm_write(&vm, &w, 1, exits);
	ok &= check(n == 1, "write after munmap: %d exits, wanted 1", n);
	if (n == 1)
		ok &= exit_is(&exits[0], &w);
	n = reg2(&vm, ZONE_B, 0x10, 0, fd);
	ok &= check(n == ENOBUFS, "register2 on the unmapped buffer: %s, wanted ENOBUFS",
		    strerror(n));
	ring = buffer_map(fd);
	if (!ring)
		die("mmap again");
	n = vm_write(&vm, &w, 1, exits);
	ok &= check(n == 0 && ring_pending(ring) == 1,
		    "after mapping again: %d exits, %u entries, wanted 0 and 1 (the zone stayed)",
		    n, ring_pending(ring));
	munmap(ring, page_size);
	close(fd);
	vm_close(&vm);
	result(ok, "munmap frees the ring: the zone stays, its writes exit, register2 gives "
		   "ENOBUFS; a new mapping receives the writes again");
}

/*
 * Zones on the I/O bus count against its limit (NR_IOBUS_DEVS), so the number that
 * can still be registered shows whether a buffer's zones really went away.
 */
static int fill_bus(struct vm *vm, int fd, uint64_t base)
{
	struct kvm_coalesced_mmio_zone v1 = { .size = 1 };
	int n, r;

	for (n = 0; n < 100000; n++) {
		if (fd >= 0) {
			r = reg2(vm, base + n, 1, 0, fd);
		} else {
			v1.addr = base + n;
			r = ioctl(vm->fd, KVM_REGISTER_COALESCED_MMIO, &v1) ? errno : 0;
		}
		if (r)
			return r == ENOSPC ? n : -r;
	}
	return -E2BIG;
}

static void test_close(void)
{
	struct kvm_coalesced_mmio_ring *ring;
	const struct write w = { false, ZONE_A + 1, 0xab };
	struct seen exits[1];
	struct vm vm;
	int fd, n, full, after;
	bool ok = true;

	vm_open(&vm);
	fd = buffer_create(&vm);
	ring = fd < 0 ? NULL : buffer_map(fd);
	if (!ring || reg2(&vm, ZONE_A, 0x10, 0, fd))
		die("buffer");
	/* Closed but still mapped: the mapping holds the file, the zone still coalesces. */
	close(fd);
	n = vm_write(&vm, &w, 1, exits);
	ok &= check(n == 0 && ring_pending(ring) == 1,
		    "closed but mapped: %d exits, %u entries, wanted 0 and 1", n,
		    ring_pending(ring));
	munmap(ring, page_size);
	n = vm_write(&vm, &w, 1, exits);
	ok &= check(n == 1, "closed and unmapped: %d exits, wanted 1", n);
	vm_close(&vm);

	/* The bus count: a buffer's zones free their bus slots when it is released. */
	vm_open(&vm);
	fd = buffer_create(&vm);
	ring = fd < 0 ? NULL : buffer_map(fd);
	if (!ring)
		die("buffer");
	full = fill_bus(&vm, fd, 0x100000);
	ok &= check(full > 0, "filling the bus with buffer zones: %d", full);
	after = fill_bus(&vm, -1, 0x200000);
	ok &= check(after == 0, "bus full, yet %d v1 zones registered", after);
	munmap(ring, page_size);
	after = fill_bus(&vm, -1, 0x200000);
	ok &= check(after == 0, "unmapped but open: %d v1 zones registered, wanted 0", after);
	close(fd);
	after = fill_bus(&vm, -1, 0x200000);
	ok &= check(after == full, "after close: %d v1 zones registered, wanted %d", after, full);
	printf("# the MMIO bus took %d zones of one buffer; after close, %d v1 zones\n", full,
	       after);
	vm_close(&vm);
	result(ok, "close: once unmapped too, the buffer's zones are unregistered");
}

/* The review's fork case: a child's copy of the mapping must not free the parent's ring. */
static void test_fork(void)
{
	struct kvm_coalesced_mmio_ring *ring;
	const struct write w = { false, ZONE_A, 0x5a };
	struct seen exits[1];
	struct vm vm;
	int fd, n, status;
	pid_t pid;
	bool ok = true;

	vm_open(&vm);
	fd = buffer_create(&vm);
	ring = fd < 0 ? NULL : buffer_map(fd);
	if (!ring || reg2(&vm, ZONE_A, 0x10, 0, fd))
		die("buffer");

	/* Default: the child does not inherit the mapping. */
	pid = fork();
	if (pid == 0)
		_exit(mincore(ring, page_size, (unsigned char[1]){ 0 }) == 0 ? 1 : 0);
	waitpid(pid, &status, 0);
	ok &= check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "the child inherited the ring mapping");

	/* With MADV_DOFORK it does; its munmap and exit leave the parent's ring alive. */
	if (madvise(ring, page_size, MADV_DOFORK))
		die("madvise");
	pid = fork();
	if (pid == 0) {
		ring->first = ring->first; /* touch it */
		munmap(ring, page_size);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	n = vm_write(&vm, &w, 1, exits);
	ok &= check(n == 0 && ring_pending(ring) == 1,
		    "after the child unmapped its copy: %d exits, %u entries, wanted 0 and 1", n,
		    ring_pending(ring));
	if (ring_pending(ring) == 1)
		ok &= ring_entry_is(ring, 0, &w);
	munmap(ring, page_size);
	close(fd);
	vm_close(&vm);
	result(ok, "fork: not inherited by default; a child's copy (MADV_DOFORK) does not free "
		   "the parent's ring");
}

int main(void)
{
	struct vm vm;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = sysconf(_SC_PAGESIZE);
	ring_max = (page_size - sizeof(struct kvm_coalesced_mmio_ring)) /
		   sizeof(struct kvm_coalesced_mmio);
	printf("TAP version 13\n");

	vm_open(&vm);
	fd = buffer_create(&vm);
	if (fd < 0) {
		printf("1..0 # SKIP KVM_CREATE_COALESCED_MMIO_BUFFER: %s\n", strerror(errno));
		return KSFT_SKIP;
	}
	close(fd);
	vm_close(&vm);

	printf("1..10\n");
	test_create();
	test_map();
	test_register_errors();
	test_landing_and_poll();
	test_capacity();
	test_unregister();
	test_unmap();
	test_close();
	test_fork();
	printf("# Totals: pass:%d fail:%d\n", test_number - failures, failures);
	return failures ? KSFT_FAIL : KSFT_PASS;
}
