// Package compile is btool's BPF compiler: it types probe expressions
// against a ProbeContext (check), lowers them to a small IR and generates BPF
// instructions with github.com/cilium/ebpf/asm, never with clang. It also
// knows the argument ABIs (pt_regs, syscall wrappers, fentry slots, Go's
// ABIInternal, USDT operands) and the attach modes' program types.
//
// It touches no kernel: its output is ebpf.ProgramSpec and ebpf.MapSpec
// values that package bpf loads and attaches. Everything in it is
// unit-testable; its TestKernel* tests only load or run generated programs
// to check that the verifier accepts them and that they compute the right
// values.
package compile
