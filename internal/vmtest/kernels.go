package vmtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoKernel is wrapped by FindKernels when a kernel image is missing.
var ErrNoKernel = errors.New("VM kernel not found")

// Kernel is one kernel the harness boots.
type Kernel struct {
	Label    string   // "5.10", "6.1" or "6.12": the subtest name and $BTOOL_VM
	Path     string   // the vmlinuz image
	Features []string // $BTOOL_EXPECT_FEATURES inside the VM
}

// Labels lists the kernels TestVM boots, oldest first.
var Labels = []string{"5.10", "6.1", "6.12"}

// ExpectedFeatures maps a kernel label to the features the bpf package's
// probes must find on it (the names are the contract with those probes).
// Inside the VM they are $BTOOL_EXPECT_FEATURES, so testutil.RequireFeature
// fails instead of skipping when one is missing.
var ExpectedFeatures = map[string][]string{
	// Debian 11's 5.10: no BPF cookie and no bpf_get_func_ip in kprobes (5.15),
	// no kprobe_multi (5.18), no uprobe_multi (6.6).
	"5.10": {"kprobe", "fentry", "tracepoint", "raw_tracepoint", "ringbuf", "uprobe", "perf_event"},
	// Debian 6.1: no kprobe_multi (Debian's 6.1 lacks CONFIG_FPROBE), no uprobe_multi (6.6+).
	// Sleepable uprobes (6.0) measured on both.
	"6.1":  {"kprobe", "fentry", "tracepoint", "raw_tracepoint", "ringbuf", "cookie", "get_func_ip", "uprobe", "sleepable_uprobe", "perf_event"},
	"6.12": {"kprobe", "kprobe_multi", "fentry", "tracepoint", "raw_tracepoint", "ringbuf", "cookie", "get_func_ip", "uprobe", "uprobe_multi", "sleepable_uprobe", "perf_event"},
}

// KernelDir returns the directory holding the kernels: $BTOOL_KERNELS, else
// ~/.cache/btool/kernels (where .ci/deps.sh puts them).
func KernelDir() string {
	if d := os.Getenv("BTOOL_KERNELS"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "btool", "kernels")
}

// SelectedLabels returns the labels named in $BTOOL_VM_KERNELS (comma
// separated), or all Labels when it is unset. Unknown labels are kept: they
// make FindKernels fail rather than silently test nothing.
func SelectedLabels() []string {
	env := strings.TrimSpace(os.Getenv("BTOOL_VM_KERNELS"))
	if env == "" {
		return Labels
	}
	var labels []string
	for _, l := range strings.Split(env, ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	return labels
}

// FindKernels resolves each label to dir/<label>: a symlink to (or a copy
// of) a vmlinuz image, or a small text file naming one relative to dir. It
// returns an error wrapping ErrNoKernel for the first label without an image.
func FindKernels(dir string, labels []string) ([]Kernel, error) {
	var ks []Kernel
	for _, label := range labels {
		p, err := resolveKernel(dir, label)
		if err != nil {
			return nil, err
		}
		ks = append(ks, Kernel{Label: label, Path: p, Features: ExpectedFeatures[label]})
	}
	return ks, nil
}

func resolveKernel(dir, label string) (string, error) {
	p := filepath.Join(dir, label)
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: kernel %s: %w", ErrNoKernel, label, err)
	}
	if fi.Size() < 4096 {
		// A file naming the image.
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%w: kernel %s: %w", ErrNoKernel, label, err)
		}
		name := strings.TrimSpace(string(b))
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		if _, err := os.Stat(name); err != nil {
			return "", fmt.Errorf("%w: kernel %s: %s names %w", ErrNoKernel, label, p, err)
		}
		p = name
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return p, nil
}
