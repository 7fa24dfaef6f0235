/* stash: C workloads with known nesting and delays for the entry/return
 * stash tests (bpf/compile). Prints its pid, waits for a line on stdin,
 * runs the mode in argv[1] and prints "done":
 *   recurse RUNS LEVELS USEC  RUNS times recurse(LEVELS, USEC), where
 *       recurse(d) calls recurse(d-1) when d > 1 and then sleeps USEC
 *       microseconds: a call at d takes d sleeps and contains the call
 *       at d-1.
 *   requests N LOST USEC  req_start(id) for ids 1..N, then
 *       req_finish(id) for ids N..1, each after a sleep of USEC
 *       microseconds (request id completes after N-id+1 sleeps), then
 *       req_start(id) for LOST ids from 1001 on that never finish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) long recurse(long d, long usec) {
	long r = 0;
	if (d > 1)
		r = recurse(d - 1, usec);
	usleep(usec);
	__asm__ volatile("");
	return r + d;
}

__attribute__((noinline)) void req_start(long id) { __asm__ volatile("" ::"r"(id)); }
__attribute__((noinline)) void req_finish(long id) { __asm__ volatile("" ::"r"(id)); }

int main(int argc, char **argv) {
	char line[16];
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) { /* EOF also starts the run */ }
	long a = argc > 2 ? atol(argv[2]) : 5, b = argc > 3 ? atol(argv[3]) : 6, usec = argc > 4 ? atol(argv[4]) : 2000;
	long s = 0;
	if (argc > 1 && strcmp(argv[1], "requests") == 0) {
		for (long id = 1; id <= a; id++)
			req_start(id);
		for (long id = a; id >= 1; id--) {
			usleep(usec);
			req_finish(id);
		}
		for (long id = 1001; id < 1001 + b; id++)
			req_start(id);
	} else {
		for (long i = 0; i < a; i++)
			s += recurse(b, usec);
	}
	printf("done %ld\n", s);
	return 0;
}
