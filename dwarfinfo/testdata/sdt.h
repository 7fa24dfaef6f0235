/*
 * Minimal USDT probe macros for btool's test fixtures, modelled on the
 * structure of systemtap's <sys/sdt.h> (which this machine does not have).
 *
 * Each probe site is a nop; a note in section .note.stapsdt (owner
 * "stapsdt", type 3) records
 *     pc, _.stapsdt.base, semaphore   (address-sized each)
 *     "provider\0" "name\0" "args\0"
 * where args are "SIZE@OPERAND" items, SIZE negative for signed values and
 * OPERAND whatever the compiler chose for the "nor" constraint (%edi,
 * -20(%rbp), $5). A hidden comdat symbol _.stapsdt.base in section
 * .stapsdt.base lets tools detect prelinking.
 *
 * BTOOL_PROBE<N>(provider, name, args...)   probe without a semaphore
 * BTOOL_PROBE_SEM<N>(...)                   probe whose semaphore is
 *     provider_name_semaphore, which the user defines with
 *     BTOOL_SEMAPHORE(provider, name) (an unsigned short in .probes).
 */
#ifndef BTOOL_TEST_SDT_H
#define BTOOL_TEST_SDT_H

#if defined(__LP64__) || defined(_LP64)
#define _SDT_ASM_ADDR ".8byte"
#else
#define _SDT_ASM_ADDR ".4byte"
#endif

#define _SDT_STR(x) #x
#define _SDT_XSTR(x) _SDT_STR(x)

/* pointer_type_class is 5 in GCC's __builtin_classify_type. */
#define _SDT_ISPTR(x) (__builtin_classify_type(x) == 5)
#define _SDT_ARGSIZE(x) (_SDT_ISPTR(x) ? sizeof(void *) : sizeof(x))
#define _SDT_ARGSIGNED(x) (!_SDT_ISPTR(x) && ((__typeof__(x))-1 < (__typeof__(x))1))
/*
 * "%n" prints the negated constant without the '$' prefix, so the size is
 * passed negated: signed arguments come out as "-SIZE".
 */
#define _SDT_SIZE_OPND(x) "n"((_SDT_ARGSIGNED(x) ? 1 : -1) * (int)_SDT_ARGSIZE(x))

#define _SDT_ARGFMT(i) "%n[_SDT_S" #i "]@%[_SDT_A" #i "]"
#define _SDT_OPND(i, x) [_SDT_S##i] _SDT_SIZE_OPND(x), [_SDT_A##i] "nor"(x)

#define _SDT_BASE                                                          \
	".ifndef _.stapsdt.base\n"                                         \
	".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
	".weak _.stapsdt.base\n"                                           \
	".hidden _.stapsdt.base\n"                                         \
	"_.stapsdt.base: .space 1\n"                                       \
	".size _.stapsdt.base, 1\n"                                        \
	".popsection\n"                                                    \
	".endif\n"

#define _SDT_NOTE(provider, name, sem, argfmt)                             \
	"990: nop\n"                                                       \
	".pushsection .note.stapsdt,\"?\",\"note\"\n"                      \
	".balign 4\n"                                                      \
	".4byte 992f-991f, 994f-993f, 3\n"                                 \
	"991: .asciz \"stapsdt\"\n"                                        \
	"992: .balign 4\n"                                                 \
	"993: " _SDT_ASM_ADDR " 990b\n"                                    \
	_SDT_ASM_ADDR " _.stapsdt.base\n"                                  \
	_SDT_ASM_ADDR " " sem "\n"                                         \
	".asciz \"" #provider "\"\n"                                       \
	".asciz \"" #name "\"\n"                                           \
	".asciz \"" argfmt "\"\n"                                          \
	"994: .balign 4\n"                                                 \
	".popsection\n"

#define _SDT_PROBE(provider, name, sem, argfmt, ...)                       \
	do {                                                               \
		__asm__ __volatile__(_SDT_NOTE(provider, name, sem, argfmt)  \
				     : : __VA_ARGS__);                      \
		__asm__ __volatile__(_SDT_BASE);                           \
	} while (0)

#define _SDT_NOSEM "0"
#define _SDT_SEM(provider, name) _SDT_XSTR(provider##_##name##_semaphore)

#define BTOOL_SEMAPHORE(provider, name)                                    \
	__extension__ unsigned short provider##_##name##_semaphore          \
		__attribute__((unused, section(".probes")))

#define BTOOL_SEMAPHORE_ENABLED(provider, name)                            \
	__builtin_expect(provider##_##name##_semaphore, 0)

#define BTOOL_PROBE0(p, n)                                                 \
	do {                                                               \
		__asm__ __volatile__(_SDT_NOTE(p, n, _SDT_NOSEM, ""));     \
		__asm__ __volatile__(_SDT_BASE);                           \
	} while (0)
#define BTOOL_PROBE1(p, n, a1)                                             \
	_SDT_PROBE(p, n, _SDT_NOSEM, _SDT_ARGFMT(1), _SDT_OPND(1, a1))
#define BTOOL_PROBE2(p, n, a1, a2)                                         \
	_SDT_PROBE(p, n, _SDT_NOSEM, _SDT_ARGFMT(1) " " _SDT_ARGFMT(2),        \
		   _SDT_OPND(1, a1), _SDT_OPND(2, a2))
#define BTOOL_PROBE3(p, n, a1, a2, a3)                                     \
	_SDT_PROBE(p, n, _SDT_NOSEM,                                       \
		   _SDT_ARGFMT(1) " " _SDT_ARGFMT(2) " " _SDT_ARGFMT(3),           \
		   _SDT_OPND(1, a1), _SDT_OPND(2, a2), _SDT_OPND(3, a3))
#define BTOOL_PROBE_SEM2(p, n, a1, a2)                                     \
	_SDT_PROBE(p, n, _SDT_SEM(p, n), _SDT_ARGFMT(1) " " _SDT_ARGFMT(2),    \
		   _SDT_OPND(1, a1), _SDT_OPND(2, a2))

#endif /* BTOOL_TEST_SDT_H */
