// SPDX-License-Identifier: MIT
/*
 * Keeps one VM with one vCPU without an in-kernel irqchip alive in a child
 * process, so that the static key kvm_has_noapic_vcpu stays enabled: later
 * vCPUs without an irqchip then only move its count (never 0 <-> 1), and
 * creating or destroying them patches no kernel text. The parent exits 0 once
 * the child holds the vCPU.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int ready[2];
	char byte = 0;

	if (pipe(ready))
		return 1;
	if (fork() == 0) {
		int kvm = open("/dev/kvm", O_RDWR);
		int vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
		int vcpu = vm < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);

		byte = vcpu >= 0;
		if (write(ready[1], &byte, 1) != 1 || vcpu < 0)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(ready[0], &byte, 1) != 1 || !byte) {
		printf("not ok 1 - could not hold a vCPU without an irqchip\n");
		return 1;
	}
	printf("ok 1 - a vCPU without an irqchip is held: kvm_has_noapic_vcpu stays on\n");
	return 0;
}
