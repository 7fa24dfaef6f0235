/* stacks: a C workload with known call stacks for stackcount, profile and
 * offcputime tests. Prints its pid, waits for a line on stdin, then runs one
 * of:
 *   stacks calls N [LINGER_MS]  main -> mid -> leaf, N times; then waits
 *                               LINGER_MS (default 0) before exiting
 *   stacks spin MS              main -> spin: a busy loop for MS milliseconds
 *   stacks sleep MS COUNT       main -> nap: COUNT sleeps of MS milliseconds
 * and prints "done". nap and the linger make the nanosleep system call
 * themselves (inline asm on x86-64 and arm64), so a frame-pointer unwind
 * from the kernel finds nap and its caller: a libc wrapper built without
 * frame pointers would hide the function that called it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static long raw_nanosleep(const struct timespec *ts) {
#if defined(__x86_64__)
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_nanosleep), "D"(ts), "S"(0L) : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_nanosleep;
	register long x0 __asm__("x0") = (long)ts;
	register long x1 __asm__("x1") = 0;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
	return x0;
#else
	return nanosleep(ts, 0);
#endif
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	raw_nanosleep(&ts);
}

volatile long sink;

__attribute__((noinline)) void touch(long x) { __asm__ volatile(""); sink += x; }
/* leaf calls touch so that it has a frame (GCC omits the frame pointer of
 * functions that call nothing), and starts with push %rbp: kernels from 6.11
 * then add the caller a uprobe at the entry would miss. */
__attribute__((noinline)) long leaf(long x) { touch(x); __asm__ volatile(""); return x + 1; }
/* Not a tail call: mid's frame stays on the stack while leaf runs. */
__attribute__((noinline)) long mid(long x) { long r = leaf(x); __asm__ volatile(""); return r * 2; }

__attribute__((noinline)) void spin(long ms) {
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		for (int i = 0; i < 100000; i++)
			sink += i;
		clock_gettime(CLOCK_MONOTONIC, &b);
		if ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= ms)
			return;
	}
}

__attribute__((noinline)) void nap(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	raw_nanosleep(&ts);
	__asm__ volatile("");
}

int main(int argc, char **argv) {
	char line[16];
	const char *mode = argc > 1 ? argv[1] : "calls";
	long a = argc > 2 ? atol(argv[2]) : 100;
	long b = argc > 3 ? atol(argv[3]) : 0;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) { /* EOF also starts the run */ }
	long s = 0;
	if (strcmp(mode, "calls") == 0) {
		for (long i = 0; i < a; i++)
			s += mid(i);
		if (b > 0)
			sleep_ms(b);
	} else if (strcmp(mode, "spin") == 0) {
		spin(a);
	} else if (strcmp(mode, "sleep") == 0) {
		for (long i = 0; i < b; i++)
			nap(a);
	} else {
		fprintf(stderr, "stacks: unknown mode %s\n", mode);
		return 2;
	}
	printf("done %ld\n", s);
	return 0;
}
