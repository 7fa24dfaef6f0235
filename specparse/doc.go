// Package specparse parses the specs users type on btool's command line:
// funccount/stackcount/funclatency patterns, trace probes, argdist
// specifiers and printf formats. It uses the standard library only, never
// panics on any input, and reports errors with byte positions so the CLI
// can underline them (see Caret).
//
// # Positions and errors
//
// A Pos is a 0-based byte offset into the spec. Every parser returns, on
// failure, a nil result and an ErrorList of *Error{Pos, End, Msg}, sorted by
// position; errors are collected where the parser can resynchronise (after
// a bad probe head, predicate or argument), so one run shows every mistake.
// Every *Error matches errors.Is(err, ErrSyntax). Caret renders them:
//
//	error: invalid offset '0xzz': must be decimal or hexadecimal
//	  do_sys_open+0xzz
//	              ^~~~
//
// # Patterns (funccount, stackcount, funclatency)
//
//	func | lib:func | /path/bin:func | p::func | p:lib:func | t:category:event | u:lib:probe
//
// One part is a kernel function, two parts "lib:func" a user function (an
// empty lib means the kernel), three parts start with the type p, t or u
// (an empty type means p).
// funclatency accepts only func and lib:func (ParseLatencyPattern).
//
// Names are globs: '*' matches any string, '?' one character, "[...]" a
// class; they match whole names. Unlike bcc, which only turns '*' into ".*",
// regex metacharacters such as '.' are literal in globs. With regex set, the
// name is a Go regular expression anchored at the start only (like Python's
// re.match used by bcc); for tracepoints it is matched against
// "category:event".
//
// # Trace probes
//
//	[{p,r}]:[library]:function[+offset][(signature)] [(predicate)] ["format"[, arguments]]
//	t:category:event [(predicate)] ["format"[, arguments]]
//	u:library:[provider:]probe [(predicate)] ["format"[, arguments]]
//
// The head runs up to the first space, '(' or '"'. "func" means p::func and
// "lib:func" means p:lib:func (but "p:func", "r:func", "t:func" and "u:func"
// are rejected as likely mistakes). A '(' directly after the head starts the
// signature, which is optional and takes C parameters such as
// "const char __user *filename" ("(void)" equals "()"); tracepoints and
// USDT probes take none. A '(' after white space starts the predicate, one
// parenthesised C expression. Then an optional double-quoted printf format
// (see ParseFormat) and comma-separated argument expressions. Function
// names may contain glob wildcards; resolving them is the caller's job.
//
// Expressions are a C subset: integer literals (decimal, 0x hex, 0 octal,
// suffixes u, l, ul, ll, ull), character and string literals with C
// escapes; unary - + ! ~ * &; the binary operators with C precedence
// (* / % above + - above << >> above < <= > >= above == != above & above ^
// above | above && above ||); the conditional ?:; casts; x->name, x.name,
// x[i]; calls NAME(args) such as STRCMP("a", arg1) and $entry(x); and
// identifiers, including arg1..argN, retval, $retval, $pid, $tgid, $uid,
// $gid, $cpu, $task, $comm, $latency, args and ctx (which of them are valid
// for a probe is the checker's job). A postfix "@user" on a name, member,
// index or call (arg2@user) marks a user-space pointer.
//
// A parenthesised type is a cast when its first word is a C type keyword
// (void char short int long float double signed unsigned _Bool bool), a
// qualifier (const volatile __user), struct/union/enum, a kernel typedef
// (u8..u64, s8..s64, __u8..__s64, __be16.., __le16..) or a name ending in
// "_t", or when it is a name followed by one or more '*' and ')'. Other
// parenthesised names are expressions: "(foo)x" is an error with a hint,
// write "(foo *)x", "(struct foo)x" or use a _t name.
//
// Probe.String and ExprString print a canonical form that parses back to an
// equal tree.
//
// # argdist specifiers
//
//	{p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
//	s:[software]:event([period])[:type[,type...]:expr[,expr...][:filter]][#label]
//
// The signature parentheses are required, as in bcc; tracepoints and USDT
// probes take "()". Type s (beyond bcc) is a perf software event, with
// bpftrace's names and aliases: alignment-faults, context-switches (cs),
// cpu-clock (cpu), cpu-migrations, dummy, emulation-faults, major-faults,
// minor-faults, page-faults (faults), task-clock (see SoftwareEvents). Its
// parentheses hold the sample period, one sample every period events:
// "s:software:page-faults(100)"; empty means every event for the counted
// events, and one sample per 1,000,000 ns (1 ms) of CPU time for the clocks
// cpu-clock and task-clock, whose period is in nanoseconds (10000 at least). Expressions use the trace expression grammar and are
// parsed, not split on ':' and ',', so "a ? b : c" and STRCMP("x", s)
// work. The label is the text after the first '#' outside literals.
package specparse
