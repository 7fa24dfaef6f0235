// Package feature answers which BPF mechanisms the running kernel has
// (kprobes, kprobe_multi, fentry, uprobe_multi, the ring buffer, the BPF
// cookie, ...), probing each at most once, with user overrides
// (--no-feature) and fakes for tests.
//
// Have returns nil when the feature is there, an error wrapping
// ErrNotSupported (with the reason and the kernel that introduced it) when it
// is not, and any other error when the probe could not run.
package feature
