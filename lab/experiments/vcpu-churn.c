// SPDX-License-Identifier: MIT
/*
 * The -smp 2 hang of docs/lab.md, reduced: one thread keeps a vCPU running a
 * real-mode `jmp $` (a VM with an in-kernel irqchip, so it never exits), while
 * the main thread creates and destroys CHURN_ROUNDS VMs with one vCPU each.
 * Built with WITH_IRQCHIP 0, those VMs have no KVM_CREATE_IRQCHIP, so on kernels
 * that count such vCPUs in the static key kvm_has_noapic_vcpu, each creation and
 * destruction patches kernel text (int3 + IPI to every CPU) while the other CPU
 * sits in the nested guest. With WITH_IRQCHIP 1 nothing is patched.
 * Exit 0 when every round finished; progress also goes to /dev/console.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef WITH_IRQCHIP
#define WITH_IRQCHIP 0
#endif
#define CHURN_ROUNDS 300

static FILE *console;

static void say(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	fflush(stdout);
	if (console) {
		va_start(args, format);
		vfprintf(console, format, args);
		va_end(args);
		fflush(console);
	}
}

static int must(int value, const char *what)
{
	if (value < 0) {
		say("not ok 1 - %s: %s\n", what, strerror(errno));
		exit(1);
	}
	return value;
}

static int kvm;

static void *spin(void *unused)
{
	static const unsigned char jmp_self[] = { 0xeb, 0xfe };
	struct kvm_userspace_memory_region region = { .slot = 0, .memory_size = 0x1000 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	int vm, vcpu;
	void *ram;

	(void)unused;
	vm = must(ioctl(kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM (spinner)");
	must(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP (spinner)");
	ram = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		must(-1, "mmap");
	memcpy(ram, jmp_self, sizeof(jmp_self));
	region.userspace_addr = (unsigned long)ram;
	must(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
	vcpu = must(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU (spinner)");
	must(ioctl(vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	must(ioctl(vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
	must(ioctl(vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
	for (;;)
		ioctl(vcpu, KVM_RUN, 0);
	return NULL;
}

int main(void)
{
	pthread_t spinner;
	int round;

	console = fopen("/dev/console", "w");
	kvm = must(open("/dev/kvm", O_RDWR), "open /dev/kvm");
	say("TAP version 13\n1..1\n# vCPU churn, %s KVM_CREATE_IRQCHIP, while a vCPU spins\n",
	    WITH_IRQCHIP ? "with" : "without");
	if (pthread_create(&spinner, NULL, spin, NULL))
		must(-1, "pthread_create");
	sleep(1);
	for (round = 1; round <= CHURN_ROUNDS; round++) {
		int vm = must(ioctl(kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM");

		if (WITH_IRQCHIP)
			must(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
		close(must(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU"));
		close(vm);
		if (round % 50 == 0)
			say("# round %d of %d\n", round, CHURN_ROUNDS);
	}
	say("ok 1 - %d VM + vCPU create/destroy rounds finished\n", CHURN_ROUNDS);
	return 0;
}
