/* usdt_sites: one USDT probe, sites:pair, placed at two sites whose
 * arguments the note puts in different places:
 *   site_regs: arg1 in %edi, arg2 in %rsi         (registers)
 *   site_mem:  arg1 in a stack slot, arg2 in %rbx (memory, another register)
 * so a tracer that reads every site with the first site's argument spec
 * prints garbage for the other.
 * Prints its pid, waits for a line on stdin, then for i in 0..N-1 fires
 *   site_regs with (i, 1000*i) and site_mem with (-1-i, 7000+i),
 * the ground truth the end-to-end test checks.
 * Build with -I dwarfinfo/testdata for sdt.h. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "sdt.h"

/* The probe with operand constraints chosen here instead of "nor", so
 * each site's locations are fixed whatever the optimiser does. */
#define PAIR_PROBE(c1, c2, v1, v2)                                          \
	do {                                                               \
		__asm__ __volatile__(_SDT_NOTE(sites, pair, _SDT_NOSEM,      \
					       "-4@%[a1] -8@%[a2]")         \
				     : : [a1] c1(v1), [a2] c2(v2));         \
		__asm__ __volatile__(_SDT_BASE);                           \
	} while (0)

__attribute__((noinline)) void site_regs(int x, long y) {
	PAIR_PROBE("D", "S", x, y);
}

/* The parameters come in the other order, so %edi and %rsi hold other
 * values than the probe's arguments here. */
__attribute__((noinline)) void site_mem(long y, int x) {
	volatile int slot = x;
	PAIR_PROBE("m", "b", slot, y);
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 10;
	char line[16];
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) {}
	for (int i = 0; i < n; i++) {
		site_regs(i, 1000L * i);
		site_mem(7000L + i, -1 - i);
	}
	return 0;
}
