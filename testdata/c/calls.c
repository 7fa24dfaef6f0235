/* calls: a C workload with known call counts for uprobe tests.
 * Prints its pid, waits for a line on stdin, then calls
 *   work_alpha N times, work_beta 2N times, work_gamma 3N times
 * where N is argv[1] (default 100), and prints "done". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int work_alpha(int x) { __asm__ volatile(""); return x + 1; }
__attribute__((noinline)) int work_beta(int x) { __asm__ volatile(""); return x * 2; }
__attribute__((noinline)) long work_gamma(long x, const char *s) { __asm__ volatile(""); return x + (s ? s[0] : 0); }

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 100;
	char line[16];
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) { /* EOF also starts the run */ }
	long s = 0;
	for (int i = 0; i < n; i++) {
		s += work_alpha(i);
		s += work_beta(i);
		s += work_beta(i);
		for (int j = 0; j < 3; j++)
			s += work_gamma(i, "x");
	}
	printf("done %ld\n", s);
	return 0;
}
