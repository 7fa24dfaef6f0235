/* usdt: a workload with USDT probes, one of them behind a semaphore.
 * Prints its pid, waits for a line on stdin, then for i in 0..N-1 fires
 *   demo:tick every iteration (no semaphore) and
 *   demo:guarded every iteration, but only while a tracer has enabled its
 *   semaphore (the program checks it, as real USDT users do).
 * Build with -I dwarfinfo/testdata for sdt.h. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "sdt.h"

BTOOL_SEMAPHORE(demo, guarded);

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 100;
	char line[16];
	long guarded = 0;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) {}
	for (int i = 0; i < n; i++) {
		BTOOL_PROBE1(demo, tick, i);
		if (BTOOL_SEMAPHORE_ENABLED(demo, guarded)) {
			guarded++;
			BTOOL_PROBE_SEM2(demo, guarded, i, (long)n);
		}
	}
	printf("done guarded=%ld\n", guarded);
	return 0;
}
