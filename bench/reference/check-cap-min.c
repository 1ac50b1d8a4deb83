/*
 * check-cap-min: the system calls `cmmio check-cap` makes, and nothing more,
 * for comparing start-up time (process start to report printed).
 *
 *   open("/dev/kvm")
 *   KVM_GET_API_VERSION                          (system fd)
 *   KVM_CREATE_VM                                (system fd)
 *   KVM_CHECK_EXTENSION  15 KVM_CAP_COALESCED_MMIO  (VM fd: ring page offset)
 *                       162 KVM_CAP_COALESCED_PIO
 *                       203 KVM_CAP_BINARY_STATS_FD
 *                        36 KVM_CAP_IOEVENTFD
 *   _IO(KVMIO, 0xd6) = 0xAED6 on the VM fd: the proposed v2 API's
 *       KVM_CREATE_COALESCED_MMIO_BUFFER; mainline answers ENOTTY
 *   uname(), sysconf(_SC_PAGESIZE), sysconf(_SC_NPROCESSORS_ONLN)
 *   access("/sys/module/<m>") for the KVM modules cmmio knows, until one exists
 *   /sys/devices/system/node/node<N>/cpulist and .../meminfo for every node
 *
 * Prints one small JSON object. Exit 0, 1 if an ioctl fails, 2 if /dev/kvm
 * cannot be opened or the API version is not 12.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef KVM_CAP_COALESCED_PIO
#define KVM_CAP_COALESCED_PIO 162
#endif
#ifndef KVM_CAP_BINARY_STATS_FD
#define KVM_CAP_BINARY_STATS_FD 203
#endif
/* v2/v3 posting of KVM_CREATE_COALESCED_MMIO_BUFFER (never merged). */
#define KVM_V2_PROBE _IO(KVMIO, 0xd6)

static void fail(const char *what)
{
	int e = errno;
	fprintf(stderr, "check-cap-min: %s failed: %s.\n", what, strerror(e));
	exit(1);
}

static int check(int vm, long cap, const char *what)
{
	int r = ioctl(vm, KVM_CHECK_EXTENSION, cap);
	if (r < 0)
		fail(what);
	return r;
}

/* Read a small file whole into buf (NUL-terminated); returns length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Print s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "check-cap-min: open /dev/kvm failed: %s.\n",
			strerror(errno));
		return 2;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api < 0)
		fail("KVM_GET_API_VERSION");
	if (api != KVM_API_VERSION) {
		fprintf(stderr, "check-cap-min: KVM_GET_API_VERSION returned %d, "
			"expected %d.\n", api, KVM_API_VERSION);
		return 2;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		fail("KVM_CREATE_VM");

	int ring_off = check(vm, KVM_CAP_COALESCED_MMIO,
			     "KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO)");
	int cpio = check(vm, KVM_CAP_COALESCED_PIO,
			 "KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_PIO)");
	int stats = check(vm, KVM_CAP_BINARY_STATS_FD,
			  "KVM_CHECK_EXTENSION(KVM_CAP_BINARY_STATS_FD)");
	int ioev = check(vm, KVM_CAP_IOEVENTFD,
			 "KVM_CHECK_EXTENSION(KVM_CAP_IOEVENTFD)");

	/* v2 probe: ENOTTY or EINVAL means absent; an fd is v2 only if it is
	 * the right kind of anonymous inode. */
	char probe[96];
	int v2 = 0;
	int bfd = ioctl(vm, KVM_V2_PROBE, 0);
	if (bfd < 0) {
		const char *name = strerrorname_np(errno);
		snprintf(probe, sizeof(probe), "%s", name ? name : "unknown errno");
	} else {
		char link[64], target[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", bfd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		v2 = strcmp(target, "anon_inode:coalesced_mmio_buf") == 0;
		snprintf(probe, sizeof(probe), "fd %s", target);
		close(bfd);
	}

	struct utsname un;
	if (uname(&un) != 0)
		fail("uname");
	long page = sysconf(_SC_PAGESIZE);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	/* The KVM backend: the first known module present under /sys/module. */
	static const char *const backends[] = { "kvm_intel", "kvm_amd", "kvm_pvm",
		"kvm_arm", "kvm_riscv", "kvm_hv", "kvm_pr" };
	const char *backend = "unknown";
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/sys/module/%s", backends[i]);
		if (access(path, F_OK) == 0) {
			backend = backends[i];
			break;
		}
	}

	printf("{\"tool\":\"check-cap-min\",\"api_version\":%d,"
	       "\"kernel_release\":", api);
	json_str(un.release);
	printf(",\"arch\":");
	json_str(un.machine);
	printf(",\"backend\":");
	json_str(backend);
	printf(",\"page_size\":%ld,\"features\":{"
	       "\"coalesced_mmio\":{\"supported\":%s,\"ring_page_offset\":%d,"
	       "\"ring_entries\":%ld,\"usable_entries\":%ld},"
	       "\"coalesced_pio\":{\"supported\":%s},"
	       "\"coalesced_mmio2\":{\"supported\":%s,\"probe\":",
	       page, ring_off > 0 ? "true" : "false", ring_off,
	       (page - 8) / 24, (page - 8) / 24 - 1,
	       cpio > 0 ? "true" : "false", v2 ? "true" : "false");
	json_str(probe);
	printf("},\"binary_stats\":{\"supported\":%s},"
	       "\"ioeventfd\":{\"supported\":%s}},"
	       "\"host\":{\"cpus_online\":%ld,\"numa_nodes\":[",
	       stats > 0 ? "true" : "false", ioev > 0 ? "true" : "false", cpus);

	glob_t g;
	if (glob("/sys/devices/system/node/node[0-9]*", GLOB_ONLYDIR, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			const char *dir = g.gl_pathv[i];
			long node = strtol(strrchr(dir, '/') + 5, NULL, 10);
			char path[256], buf[4096];
			char cpulist[256] = "";
			long mem_kb = -1;

			snprintf(path, sizeof(path), "%s/cpulist", dir);
			if (read_small(path, cpulist, sizeof(cpulist)) > 0)
				cpulist[strcspn(cpulist, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s/meminfo", dir);
			if (read_small(path, buf, sizeof(buf)) > 0) {
				/* "Node 0 MemTotal:       16318656 kB" */
				char *p = strstr(buf, "MemTotal:");
				if (p != NULL)
					mem_kb = strtol(p + 9, NULL, 10);
			}
			printf("%s{\"node\":%ld,\"cpus\":", i ? "," : "", node);
			json_str(cpulist);
			if (mem_kb >= 0)
				printf(",\"memory_mib\":%ld}", mem_kb / 1024);
			else
				printf(",\"memory_mib\":null}");
		}
		globfree(&g);
	}
	printf("]}}\n");

	close(vm);
	close(kvm);
	return 0;
}
