// SPDX-License-Identifier: GPL-2.0
/*
 * Prints the host TSC's rate against CLOCK_MONOTONIC, in kHz, over half a
 * second. lab/run.sh gives it to each guest as tsc_early_khz: under TCG the
 * guest's TSC is the host's, and a guest whose early calibration strays from
 * the rate it later refines to has a KVM whose vCPUs run below tsc_khz
 * (docs/lab.md, "The guests' TSC").
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

struct pair {
	double ns;
	uint64_t tsc;
};

/*
 * The clock read between two TSC reads, the narrowest bracket of eight: a
 * pair the thread was preempted in is not the one kept.
 */
static struct pair now(void)
{
	struct pair best = { 0, 0 };
	uint64_t narrowest = UINT64_MAX;
	int i;

	for (i = 0; i < 8; i++) {
		struct timespec t;
		uint64_t before = __rdtsc();
		uint64_t after;

		clock_gettime(CLOCK_MONOTONIC, &t);
		after = __rdtsc();
		if (after - before < narrowest) {
			narrowest = after - before;
			best.ns = t.tv_sec * 1e9 + t.tv_nsec;
			best.tsc = before + (after - before) / 2;
		}
	}
	return best;
}

int main(void)
{
	struct timespec pause = { 0, 500000000 };
	struct pair start = now();
	struct pair end;

	while (nanosleep(&pause, &pause))
		;
	end = now();
	if (end.ns <= start.ns || end.tsc <= start.tsc)
		return 1;
	printf("%.0f\n", (double)(end.tsc - start.tsc) / (end.ns - start.ns) * 1e6);
	return 0;
}
