// Package bpf is btool's BPF runtime: it loads the programs package compile
// generated, creates the maps they declare, attaches them with the best
// mechanism the running kernel offers and reads the results back.
//
// It owns:
//   - the attach ladders (UsableModes): for each kind of target, the modes
//     the kernel supports, best first, walked one step at a time, falling
//     back only when a mechanism is missing or refused;
//   - loading and attaching (kprobe_multi, fentry, kprobes, tracepoints, raw
//     tracepoints, uprobe_multi, uprobes), in parallel where each target
//     costs a link, and detaching in parallel;
//   - sessions: the maps, programs and links of one run, and reading their
//     counts, lost-event counters and stacks.
//
// Feature detection lives in package bpf/feature, code generation in
// bpf/compile, which needs no kernel. Everything here needs root (CAP_BPF
// and CAP_PERFMON).
package bpf
