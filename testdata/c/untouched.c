/* untouched: passes pointers to strings on pages the process has mapped
 * but never touched (no page table entry yet) to traced code, for the
 * tests of sleepable uprobes, which can fault such pages in.
 * Usage: untouched FILE. Writes FILE (4 pages: "on the first page" at
 * offset 100, "across two pages" starting 6 bytes before the end of page
 * 1, "usdt page three" at the start of page 3) and maps it without
 * reading it, each string's pages in mappings of their own, and page 2
 * in a mapping apart from page 1: a fault maps in the pages around it
 * ("fault-around"), but only within its mapping. Then it prints its pid,
 * waits for a line on stdin, calls
 *   show(first), show(across)
 * fires the USDT probe untouched:show(third), and prints "done".
 * Build with -I dwarfinfo/testdata for sdt.h. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "sdt.h"

#define PAGE 4096

/* show does not read its argument: the page stays untouched. */
__attribute__((noinline)) void show(const char *s) { __asm__ volatile("" : : "r"(s) : "memory"); }

static void put(int fd, long off, const char *s) {
	if (pwrite(fd, s, strlen(s) + 1, off) != (ssize_t)strlen(s) + 1) {
		perror("pwrite");
		_exit(1);
	}
}

int main(int argc, char **argv) {
	char line[16];
	if (argc < 2) {
		fprintf(stderr, "usage: untouched FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * PAGE) != 0) {
		perror(argv[1]);
		return 1;
	}
	put(fd, 100, "on the first page");
	put(fd, 2 * PAGE - 6, "across two pages");
	put(fd, 3 * PAGE, "usdt page three");
	/* Reserve 4 pages, then map the file over them, one mapping per
	 * page, private and shared in turn so that no two neighbours merge. */
	char *p = mmap(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		int prot = i == 2 ? PROT_READ | PROT_WRITE : PROT_READ;
		int flags = (i % 2 == 0 ? MAP_PRIVATE : MAP_SHARED) | MAP_FIXED;
		if (mmap(p + i * PAGE, PAGE, prot, flags, fd, i * PAGE) == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
	}
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) {}
	show(p + 100);
	show(p + 2 * PAGE - 6);
	BTOOL_PROBE1(untouched, show, p + 3 * PAGE);
	printf("done\n");
	return 0;
}
