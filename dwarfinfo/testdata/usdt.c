/* USDT fixture: three probes without a semaphore and one with. */
#include "sdt.h"

BTOOL_SEMAPHORE(btool, guarded);

volatile long sink;

__attribute__((noinline)) int work(int n, long big, const char *s)
{
	BTOOL_PROBE0(btool, start);
	BTOOL_PROBE3(btool, args, n, big, s);
	BTOOL_PROBE1(btool, constant, 5);
	if (BTOOL_SEMAPHORE_ENABLED(btool, guarded))
		BTOOL_PROBE_SEM2(btool, guarded, n, (unsigned char)n);
	sink += n + big + s[0];
	return n * 2;
}

int main(int argc, char **argv)
{
	(void)argv;
	return work(argc, -7L, "x") == 1234;
}
