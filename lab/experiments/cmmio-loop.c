// SPDX-License-Identifier: MIT
/*
 * The -smp 2 hang as first seen: `cmmio check-cap` then `cmmio verify`, in a
 * loop, LOOP_ROUNDS times. Progress goes to /dev/console so that a guest that
 * freezes shows how far it got. Exit 0 when every round finished.
 */
#include <stdio.h>
#include <stdlib.h>

#define LOOP_ROUNDS 8

int main(void)
{
	FILE *console = fopen("/dev/console", "w");
	int round;

	printf("TAP version 13\n1..1\n");
	for (round = 1; round <= LOOP_ROUNDS; round++) {
		int status = system("cmmio check-cap > /dev/null && cmmio verify > /dev/null");

		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) > 1) {
			printf("not ok 1 - round %d: status %d\n", round, status);
			return 1;
		}
		printf("# round %d of %d done\n", round, LOOP_ROUNDS);
		if (console) {
			fprintf(console, "# round %d of %d done\n", round, LOOP_ROUNDS);
			fflush(console);
		}
	}
	printf("ok 1 - %d rounds of check-cap + verify finished\n", LOOP_ROUNDS);
	return 0;
}
