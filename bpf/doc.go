// Package bpf turns checked probes into BPF programs and attaches them with
// the best mechanism the running kernel offers.
//
// It owns three things:
//   - feature detection (Features): which attach mechanisms and helpers the
//     kernel has, probed lazily through github.com/cilium/ebpf/features and
//     small load probes, with user overrides (--no-feature);
//   - code generation: BPF instructions built directly with
//     github.com/cilium/ebpf/asm, never with clang;
//   - attachment: an ordered ladder of Modes per kind of target, walked one
//     step at a time, falling back when a mechanism is missing or refused.
//
// Loading and attaching need root (CAP_BPF and CAP_PERFMON).
package bpf
