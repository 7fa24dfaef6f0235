/* latency: a C workload with known latencies for funclatency tests.
 * Prints its pid, waits for a line on stdin, then, N = argv[1] (default 10)
 * times over:
 *   lat_sleep_a()     sleeps  5.5 ms  (usecs bucket 4096 -> 8191)
 *   lat_sleep_b()     sleeps 22   ms  (usecs bucket 16384 -> 32767)
 *   lat_recurse(3)    recursive: level 3 sleeps 5.5 ms, then calls level 2,
 *                     which sleeps 3 ms, then calls level 1, which sleeps
 *                     2.5 ms; so level 1 takes 2.5 ms (2048 -> 4095),
 *                     level 2 5.5 ms (4096 -> 8191), level 3 11 ms
 *                     (8192 -> 16383)
 * and prints "done N".
 *
 * With argv[2] "pairs" and L = argv[3] (default 0) it instead calls
 * lat_begin(1000000 + j) L times with no lat_end (requests that never
 * complete), then N times lat_begin(i), a 5.5 ms sleep, lat_end(i):
 * two-probe latencies keyed by the id, N of them in 4096 -> 8191 usecs.
 *
 * Each sleep is one clock_nanosleep syscall: 5N of
 * them, 2N in 2048 -> 4095 usecs, 2N in 4096 -> 8191, N in 16384 -> 32767.
 * The times sit well inside their buckets, so scheduling delays of up to
 * about 1 ms don't move them. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void sleep_us(long us) {
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

__attribute__((noinline)) void lat_sleep_a(void) { sleep_us(5500); __asm__ volatile(""); }
__attribute__((noinline)) void lat_sleep_b(void) { sleep_us(22000); __asm__ volatile(""); }

static const long level_us[] = {0, 2500, 3000, 5500};

__attribute__((noinline)) int lat_recurse(int level) {
	sleep_us(level_us[level]);
	int r = level > 1 ? lat_recurse(level - 1) : 0;
	__asm__ volatile("");
	return r + 1;
}

__attribute__((noinline)) void lat_begin(long id) { __asm__ volatile("" : : "r"(id)); }
__attribute__((noinline)) void lat_end(long id) { __asm__ volatile("" : : "r"(id)); }

static void pairs(int n, int leaked) {
	for (int j = 0; j < leaked; j++)
		lat_begin(1000000 + j);
	for (int i = 0; i < n; i++) {
		lat_begin(i);
		sleep_us(5500);
		lat_end(i);
	}
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 10;
	char line[16];
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) { /* EOF also starts the run */ }
	if (argc > 2 && argv[2][0] == 'p') {
		pairs(n, argc > 3 ? atoi(argv[3]) : 0);
		printf("done %d\n", n);
		return 0;
	}
	long s = 0;
	for (int i = 0; i < n; i++) {
		lat_sleep_a();
		lat_sleep_b();
		s += lat_recurse(3);
	}
	printf("done %d %ld\n", n, s);
	return 0;
}
