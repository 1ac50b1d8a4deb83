/*
 * cmmio-ref: the C yardstick for `cmmio bench`.
 *
 * Runs one tiny real-mode guest that makes N 4-byte writes, and times the
 * KVM_RUN loop. Between two KVM_RUN calls this program does nothing but
 * drain the coalesced ring (and check what it drained), so its figures are
 * the floor any VMM can reach on this host for the same guest.
 *
 *   cmmio-ref --mode ram|plain|coalesced --space mmio|pio --writes N
 *             [--ring-size K] [--cpu C] [--show-guest]
 *             [--thread [--unshare-files]]
 *
 * --thread runs everything in a second thread while the first waits in
 * pthread_join(), as cmmio's vCPU threads do: the fd table is then shared by
 * two threads, so every ioctl's fdget() takes and drops a reference on the
 * file. --unshare-files makes that thread call unshare(CLONE_FILES) first, as
 * cmmio's vCPU threads do, which gives it a table of its own again.
 *
 * Output: one line of JSON on stdout (see print_result()).
 * Exit status: 0 verified, 1 KVM failure or verification failed,
 * 2 /dev/kvm cannot be opened, 64 bad arguments.
 *
 * ---------------------------------------------------------------------------
 * The guest (must stay byte-identical to the one cmmio runs)
 * ---------------------------------------------------------------------------
 * Memory: one slot (slot 0), 64 KiB of anonymous memory at guest physical 0.
 * Code is copied to 0x1000. The vCPU starts from the sregs KVM gives it
 * (real mode) with cs.base = cs.selector = 0, and ds = es = {base 0,
 * selector 0, limit 0xffffffff, g = 1}: "unreal mode", real mode whose data
 * segments reach 4 GiB, so an a32 store can hit 0x100000. Registers:
 * rip = 0x1000, rflags = 2, everything else 0.
 *
 * MMIO loop (ram: target 0x8000, inside guest RAM, never exits;
 *            plain and coalesced: target 0x100000, no memslot there):
 *   0x00: 66 B8 <N:le32>        mov eax, N
 *   0x06: 66 BB <target:le32>   mov ebx, target
 *   0x0C: 67 66 89 03           mov [ebx], eax   ; a32 o32 4-byte store
 *   0x10: 66 48                 dec eax
 *   0x12: 75 F8                 jnz 0x0C
 *   0x14: F4                    hlt
 *
 * PIO loop (plain and coalesced; port 0x80):
 *   0x00: 66 B8 <N:le32>        mov eax, N
 *   0x06: BA <port:le16>        mov dx, port
 *   0x09: 66 EF                 out dx, eax
 *   0x0B: 66 48                 dec eax
 *   0x0D: 75 FA                 jnz 0x09
 *   0x0F: F4                    hlt
 *
 * `--mode ram --space pio` runs the MMIO loop with target 0x8000: a RAM
 * store is the floor for either space.
 *
 * The guest writes N, N-1, ..., 1, in that order; every one is checked.
 *
 * ---------------------------------------------------------------------------
 * Ring size
 * ---------------------------------------------------------------------------
 * The coalesced ring holds MAX = (page_size - 8) / 24 entries (170 on 4 KiB
 * pages) and the kernel refuses a write when (last + 1) % MAX == first. We
 * keep our own read position `rd` and, after each drain, store
 * first = (last + K + 1) % MAX: the kernel then takes exactly K more writes
 * and the next one exits to us as an ordinary KVM_EXIT_MMIO / KVM_EXIT_IO.
 * So userspace exits per write are 1 / (K + 1). K = MAX - 1 (the default)
 * gives first == last, the ring as the kernel normally leaves it.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 64

#define GUEST_MEM_SIZE 0x10000u   /* 64 KiB, slot 0, guest physical 0 */
#define GUEST_CODE_ADDR 0x1000u
#define RAM_TARGET 0x8000u        /* inside guest RAM: no exit */
#define MMIO_TARGET 0x100000u     /* no memslot: an MMIO write */
#define MMIO_ZONE_SIZE 0x1000u
#define PIO_PORT 0x80u
#define PIO_ZONE_SIZE 8u
#define WRITE_LEN 4u

enum mode { MODE_RAM, MODE_PLAIN, MODE_COALESCED };
enum space { SPACE_MMIO, SPACE_PIO };

static const char *const mode_names[] = { "ram", "plain", "coalesced" };
static const char *const space_names[] = { "mmio", "pio" };

static void usage_error(const char *fmt, const char *arg)
{
	fputs("cmmio-ref: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n", stderr);
	exit(EXIT_USAGE);
}

/* One sentence naming the ioctl (or call) and what came back; exit 1. */
static void kvm_fail(const char *what)
{
	int e = errno;
	fprintf(stderr, "cmmio-ref: %s failed: %s.\n", what, strerror(e));
	exit(1);
}

/* Parse an unsigned decimal (or 0x hex) number, all of it, within [lo, hi]. */
static uint64_t parse_uint(const char *opt, const char *s, uint64_t lo,
			   uint64_t hi)
{
	char *end;
	unsigned long long v;

	if (s == NULL)
		usage_error("%s needs a value.", opt);
	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		usage_error("invalid number '%s'.", s);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		usage_error("invalid number '%s'.", s);
	if (v < lo || v > hi) {
		fprintf(stderr,
			"cmmio-ref: %s %s is out of range (%" PRIu64
			"..%" PRIu64 ").\n",
			opt, s, lo, hi);
		exit(EXIT_USAGE);
	}
	return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Build the guest code described at the top of this file; returns its size. */
static size_t build_guest(uint8_t *code, enum mode mode, enum space space,
			  uint32_t n)
{
	if (space == SPACE_PIO && mode != MODE_RAM) {
		code[0x00] = 0x66; code[0x01] = 0xB8;      /* mov eax, N */
		put_le32(&code[0x02], n);
		code[0x06] = 0xBA;                         /* mov dx, port */
		code[0x07] = (uint8_t)PIO_PORT;
		code[0x08] = (uint8_t)(PIO_PORT >> 8);
		code[0x09] = 0x66; code[0x0A] = 0xEF;      /* out dx, eax */
		code[0x0B] = 0x66; code[0x0C] = 0x48;      /* dec eax */
		code[0x0D] = 0x75; code[0x0E] = 0xFA;      /* jnz 0x09 */
		code[0x0F] = 0xF4;                         /* hlt */
		return 0x10;
	}
	code[0x00] = 0x66; code[0x01] = 0xB8;              /* mov eax, N */
	put_le32(&code[0x02], n);
	code[0x06] = 0x66; code[0x07] = 0xBB;              /* mov ebx, target */
	put_le32(&code[0x08], mode == MODE_RAM ? RAM_TARGET : MMIO_TARGET);
	code[0x0C] = 0x67; code[0x0D] = 0x66;              /* mov [ebx], eax */
	code[0x0E] = 0x89; code[0x0F] = 0x03;
	code[0x10] = 0x66; code[0x11] = 0x48;              /* dec eax */
	code[0x12] = 0x75; code[0x13] = 0xF8;              /* jnz 0x0C */
	code[0x14] = 0xF4;                                 /* hlt */
	return 0x15;
}

/* Little-endian value of the first len (<= 8) bytes; the rest is garbage. */
static uint64_t load_le(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;
	for (uint32_t i = len; i > 0; i--)
		v = (v << 8) | data[i - 1];
	return v;
}

/* What the loop saw; `expect` counts down from N to 0 as writes arrive. */
struct tally {
	uint64_t expect;       /* data the next write must carry */
	uint64_t exits;        /* KVM_EXIT_MMIO / KVM_EXIT_IO seen */
	uint64_t entries;      /* ring entries drained */
	uint64_t bad;          /* writes with wrong address, len, kind or data */
};

/* Check one write against the next expected value, in order. */
static inline void check_write(struct tally *t, uint64_t addr, uint64_t want_addr,
			       uint32_t len, uint32_t pio, uint32_t want_pio,
			       const uint8_t *data)
{
	bool ok = t->expect > 0 && addr == want_addr && len == WRITE_LEN &&
		  pio == want_pio && load_le(data, len) == t->expect;
	if (!ok)
		t->bad++;
	if (t->expect > 0)
		t->expect--;
}

static int ref_main(int argc, char **argv)
{
	int mode = -1, space = -1;
	uint64_t writes = 0, ring_size = 0, cpu = 0;
	bool have_writes = false, have_ring = false, have_cpu = false;
	bool show_guest = false;
	long page_size = sysconf(_SC_PAGESIZE);
	uint32_t ring_max;

	if (page_size < 4096) {
		fprintf(stderr, "cmmio-ref: sysconf(_SC_PAGESIZE) failed.\n");
		return 1;
	}
	ring_max = (uint32_t)((page_size - 8) / sizeof(struct kvm_coalesced_mmio));

	/* ---- arguments ---- */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = (i + 1 < argc) ? argv[i + 1] : NULL;
		if (strcmp(a, "--mode") == 0) {
			if (v == NULL)
				usage_error("%s needs a value.", a);
			mode = -1;
			for (int m = 0; m < 3; m++)
				if (strcmp(v, mode_names[m]) == 0)
					mode = m;
			if (mode < 0)
				usage_error("unknown mode '%s' (ram, plain or coalesced).", v);
			i++;
		} else if (strcmp(a, "--space") == 0) {
			if (v == NULL)
				usage_error("%s needs a value.", a);
			space = -1;
			for (int s = 0; s < 2; s++)
				if (strcmp(v, space_names[s]) == 0)
					space = s;
			if (space < 0)
				usage_error("unknown space '%s' (mmio or pio).", v);
			i++;
		} else if (strcmp(a, "--writes") == 0) {
			writes = parse_uint(a, v, 1, UINT32_MAX);
			have_writes = true;
			i++;
		} else if (strcmp(a, "--ring-size") == 0) {
			ring_size = parse_uint(a, v, 1, ring_max - 1);
			have_ring = true;
			i++;
		} else if (strcmp(a, "--cpu") == 0) {
			cpu = parse_uint(a, v, 0, CPU_SETSIZE - 1);
			have_cpu = true;
			i++;
		} else if (strcmp(a, "--show-guest") == 0) {
			show_guest = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			printf("usage: cmmio-ref --mode ram|plain|coalesced "
			       "--space mmio|pio --writes N [--ring-size K] "
			       "[--cpu C] [--show-guest] "
			       "[--thread [--unshare-files]]\n");
			return 0;
		} else {
			usage_error("unknown argument '%s'.", a);
		}
	}
	if (mode < 0)
		usage_error("%s is required.", "--mode");
	if (space < 0)
		usage_error("%s is required.", "--space");
	if (!have_writes)
		usage_error("%s is required.", "--writes");
	if (have_ring && mode != MODE_COALESCED)
		usage_error("%s only applies to --mode coalesced.", "--ring-size");
	if (mode == MODE_COALESCED && !have_ring)
		ring_size = ring_max - 1;

	/* ---- the guest ---- */
	uint8_t code[32];
	size_t code_len = build_guest(code, (enum mode)mode, (enum space)space,
				      (uint32_t)writes);
	if (show_guest) {
		for (size_t i = 0; i < code_len; i++)
			printf(i ? " %02x" : "%02x", code[i]);
		printf("\n");
		return 0;
	}

	/* ---- pin ---- */
	if (have_cpu) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			if (errno == EINVAL) {
				fprintf(stderr, "cmmio-ref: CPU %" PRIu64
					" is not available to this process.\n", cpu);
				return EXIT_USAGE;
			}
			kvm_fail("sched_setaffinity");
		}
	}

	/* ---- VM, memory, vCPU ---- */
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "cmmio-ref: open /dev/kvm failed: %s.\n",
			strerror(errno));
		return 2;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api < 0)
		kvm_fail("KVM_GET_API_VERSION");
	if (api != KVM_API_VERSION) {
		fprintf(stderr, "cmmio-ref: KVM_GET_API_VERSION returned %d, "
			"expected %d.\n", api, KVM_API_VERSION);
		return 2;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		kvm_fail("KVM_CREATE_VM");

	uint8_t *mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		kvm_fail("mmap of guest memory");
	memcpy(mem + GUEST_CODE_ADDR, code, code_len);
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		kvm_fail("KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		kvm_fail("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		kvm_fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		kvm_fail("mmap of the vCPU's kvm_run");

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		kvm_fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	sregs.ds.limit = 0xffffffffu;
	sregs.ds.g = 1;
	sregs.es = sregs.ds;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		kvm_fail("KVM_SET_SREGS");
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_CODE_ADDR;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		kvm_fail("KVM_SET_REGS");

	/* What every write must look like. */
	const uint64_t want_addr = space == SPACE_PIO ? PIO_PORT : MMIO_TARGET;
	const uint32_t want_pio = space == SPACE_PIO ? 1 : 0;

	/* ---- coalesced zone and ring ---- */
	struct kvm_coalesced_mmio_ring *ring = NULL;
	uint32_t rd = 0;
	if (mode == MODE_COALESCED) {
		int off = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
		if (off < 0)
			kvm_fail("KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO)");
		if (off == 0) {
			fprintf(stderr, "cmmio-ref: KVM_CHECK_EXTENSION says "
				"coalesced MMIO is not supported.\n");
			return 1;
		}
		if ((long)off * page_size + page_size > run_size) {
			fprintf(stderr, "cmmio-ref: the ring page (offset %d) lies "
				"outside the %d-byte vCPU mapping.\n", off, run_size);
			return 1;
		}
		if (space == SPACE_PIO) {
			int pio = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO);
			if (pio < 0)
				kvm_fail("KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_PIO)");
			if (pio == 0) {
				fprintf(stderr, "cmmio-ref: KVM_CHECK_EXTENSION says "
					"coalesced PIO is not supported.\n");
				return 1;
			}
		}
		struct kvm_coalesced_mmio_zone zone = {
			.addr = want_addr,
			.size = space == SPACE_PIO ? PIO_ZONE_SIZE : MMIO_ZONE_SIZE,
			.pio = want_pio,
		};
		if (ioctl(vm, KVM_REGISTER_COALESCED_MMIO, &zone) < 0)
			kvm_fail("KVM_REGISTER_COALESCED_MMIO");
		ring = (struct kvm_coalesced_mmio_ring *)
			((uint8_t *)run + (long)off * page_size);
		/* No vCPU has run yet: start from an empty ring at index 0 and
		 * open K slots, by the same rule as after every drain. */
		ring->first = 0;
		ring->last = 0;
		__atomic_store_n(&ring->first,
				 (uint32_t)((0 + ring_size + 1) % ring_max),
				 __ATOMIC_RELEASE);
	}

	/* ---- the timed loop: KVM_RUN, drain, handle the exit ---- */
	struct tally t = { .expect = writes };
	bool halted = false;
	const char *failed_ioctl = NULL;
	int observed_cpu = sched_getcpu();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			failed_ioctl = "KVM_RUN";
			break;
		}
		/* Drain first: these writes came before the one that exited. */
		if (ring != NULL) {
			uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
			while (rd != last) {
				const struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[rd];
				check_write(&t, e->phys_addr, want_addr, e->len,
					    e->pio, want_pio, e->data);
				t.entries++;
				rd = (rd + 1) % ring_max;
			}
			__atomic_store_n(&ring->first,
					 (uint32_t)((last + ring_size + 1) % ring_max),
					 __ATOMIC_RELEASE);
		}
		if (run->exit_reason == KVM_EXIT_HLT) {
			halted = true;
			break;
		} else if (run->exit_reason == KVM_EXIT_MMIO) {
			t.exits++;
			if (!run->mmio.is_write || space != SPACE_MMIO ||
			    run->mmio.len > 8) {
				t.bad++;
				break;
			}
			check_write(&t, run->mmio.phys_addr, want_addr, run->mmio.len,
				    0, want_pio, run->mmio.data);
		} else if (run->exit_reason == KVM_EXIT_IO) {
			t.exits++;
			if (run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1 ||
			    space != SPACE_PIO || run->io.size > 8) {
				t.bad++;
				break;
			}
			check_write(&t, run->io.port, want_addr, run->io.size, 1,
				    want_pio,
				    (const uint8_t *)run + run->io.data_offset);
		} else {
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (failed_ioctl != NULL)
		kvm_fail(failed_ioctl);
	if (!halted && t.bad == 0) {
		fprintf(stderr, "cmmio-ref: KVM_RUN returned unexpected exit "
			"reason %u.\n", run->exit_reason);
		return 1;
	}

	/* ---- verify ---- */
	bool verified = halted && t.bad == 0;
	if (mode == MODE_RAM) {
		/* Nothing reaches us; the last value stored in RAM must be 1. */
		uint32_t last_store;
		memcpy(&last_store, mem + RAM_TARGET, sizeof(last_store));
		verified = verified && t.exits == 0 && t.entries == 0 &&
			   last_store == 1;
	} else {
		/* Exactly N writes seen, N down to 1, nothing else. */
		verified = verified && t.expect == 0 && t.exits + t.entries == writes;
		if (mode == MODE_PLAIN)
			verified = verified && t.entries == 0;
	}
	/* The loop counter must have reached zero in the guest too. */
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		kvm_fail("KVM_GET_REGS");
	verified = verified && (uint32_t)regs.rax == 0;

	/* ---- report ---- */
	double seconds = (double)(t1.tv_sec - t0.tv_sec) +
			 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("{\"tool\":\"cmmio-ref\",\"mode\":\"%s\",\"space\":\"%s\",",
	       mode_names[mode], space_names[space]);
	if (mode == MODE_COALESCED)
		printf("\"ring_size\":%" PRIu64 ",", ring_size);
	else
		printf("\"ring_size\":null,");
	printf("\"writes\":%" PRIu64 ",\"cpu\":%d,\"seconds\":%.9f,"
	       "\"writes_per_sec\":%.1f,\"ns_per_write\":%.1f,"
	       "\"userspace_exits\":%" PRIu64 ",\"ring_entries\":%" PRIu64 ","
	       "\"verified\":%s}\n",
	       writes, observed_cpu, seconds,
	       seconds > 0 ? (double)writes / seconds : 0.0,
	       seconds * 1e9 / (double)writes,
	       t.exits, t.entries, verified ? "true" : "false");
	if (!verified && mode == MODE_RAM)
		fprintf(stderr, "cmmio-ref: verification failed: the guest's "
			"RAM stores did not end as expected.\n");
	else if (!verified)
		fprintf(stderr, "cmmio-ref: verification failed: %" PRIu64
			" bad writes, %" PRIu64 " of %" PRIu64 " writes not seen.\n",
			t.bad, t.expect, writes);

	munmap(run, (size_t)run_size);
	close(vcpu);
	munmap(mem, GUEST_MEM_SIZE);
	close(vm);
	close(kvm);
	return verified ? 0 : 1;
}

struct thread_run {
	int argc;
	char **argv;
	bool unshare_files;
	int status;
};

static void *thread_main(void *arg)
{
	struct thread_run *run = arg;

	if (run->unshare_files && unshare(CLONE_FILES) != 0) {
		fprintf(stderr, "cmmio-ref: unshare(CLONE_FILES) failed: %s.\n",
			strerror(errno));
		run->status = 1;
		return NULL;
	}
	run->status = ref_main(run->argc, run->argv);
	return NULL;
}

/* Takes --thread and --unshare-files out of argv; ref_main() sees the rest. */
int main(int argc, char **argv)
{
	struct thread_run run = { .argc = 0, .argv = argv };
	bool thread = false;
	pthread_t tid;
	int err;

	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--thread") == 0)
			thread = true;
		else if (i > 0 && strcmp(argv[i], "--unshare-files") == 0)
			run.unshare_files = true;
		else
			argv[run.argc++] = argv[i];
	}
	argv[run.argc] = NULL;
	if (run.unshare_files && !thread)
		usage_error("%s only applies with --thread.", "--unshare-files");
	if (!thread)
		return ref_main(run.argc, run.argv);
	err = pthread_create(&tid, NULL, thread_main, &run);
	if (err != 0) {
		fprintf(stderr, "cmmio-ref: pthread_create failed: %s.\n",
			strerror(err));
		return 1;
	}
	pthread_join(tid, NULL);
	return run.status;
}
