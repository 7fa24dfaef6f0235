/* inlined: a C workload whose stacks pass through inlined code, for
 * symbolization tests. Prints its pid, waits for a line on stdin, then
 * calls top N times (argv[1], default 3); top calls mid through the
 * always-inlined inl_helper, and mid calls btool_leaf, so a stack taken in
 * btool_leaf holds a return address inside inl_helper's code in top. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int btool_leaf(int x) { __asm__ volatile("" : "+r"(x)); return x + 1; }
__attribute__((noinline)) int mid(int x) { return btool_leaf(x) * 7 + 1; }
static inline __attribute__((always_inline)) int inl_helper(int x) {
	return mid(x) * 2; /* INLINED CALL */
}
__attribute__((noinline)) int top(int x) { return inl_helper(x) + 3; }

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 3;
	char line[16];
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) { /* EOF also starts the run */ }
	long s = 0;
	for (int i = 0; i < n; i++)
		s += top(i);
	printf("done %ld\n", s);
	return 0;
}
