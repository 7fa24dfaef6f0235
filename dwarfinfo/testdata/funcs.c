/* DWARF/symbol fixture for dwarfinfo tests. Built with -g -O0 at test time. */
#include <stddef.h>

enum color { RED = 0, GREEN = 2, BLUE = 7 };
enum delta { DOWN = -1, FLAT = 0, UP = 1 };

struct inner {
	short a;
	long b;
};

struct node {
	int id;                 /* offset 0 */
	unsigned int flag : 1;  /* bit 32 */
	unsigned int level : 3; /* bit 33 */
	int signed_bits : 5;    /* bit 36 */
	char name[16];          /* offset 6 */
	struct inner in;        /* offset 24 */
	enum color color;       /* offset 40 */
	struct node *next;      /* offset 48 */
	int grid[2][3];         /* offset 56 */
	union {
		int i;
		float f;
	} u;                    /* offset 80 */
	const volatile int cv;  /* offset 84; sizeof 88 */
};

typedef struct node node_t;
typedef int (*callback_t)(const char *msg, long n);

volatile long sink;

__attribute__((noinline)) int add_int(int a, long b, char *s)
{
	sink += a + b + (s ? s[0] : 0);
	return a + (int)b;
}

__attribute__((noinline)) long walk(struct node *n, node_t *m, enum delta d)
{
	long total = 0;
	for (; n; n = n->next)
		total += n->id + n->level + d;
	return total + (m ? m->id : 0);
}

__attribute__((noinline)) void with_callback(callback_t cb, int (*raw)(void *), size_t len)
{
	sink += cb ? cb("x", (long)len) : 0;
	sink += raw ? raw(NULL) : 0;
}

static __attribute__((noinline)) int local_helper(unsigned char c)
{
	return c + 1;
}

/* Aliases of one function, like glibc's open/open64. */
int aliased_impl(int x) { return x * 3; }
int aliased(int x) __attribute__((alias("aliased_impl")));
int aliased64(int x) __attribute__((alias("aliased_impl")));

static int cb_impl(const char *msg, long n) { return msg[0] + (int)n; }

int main(int argc, char **argv)
{
	struct node a = { .id = 1, .next = NULL };
	(void)argv;
	with_callback(cb_impl, NULL, 3);
	return add_int(argc, 2, "hi") + (int)walk(&a, &a, UP) + local_helper(4) + aliased64(1) == 99;
}
