// Package multitool runs btool's tools end to end: it resolves a parsed
// spec against the kernel or a binary, hands the result to package bpf to
// compile and attach, reads the maps and ring buffers, and prints output in
// the layouts bcc users know (plus JSON lines).
//
// Each tool is one function taking an options struct and an Env, for
// example Funccount(ctx, FunccountOptions, Env). cmd/btool only maps flags
// onto these structs.
package multitool
