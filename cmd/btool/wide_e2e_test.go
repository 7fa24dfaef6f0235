package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestKernelFunccountLibcWildcard: every libc function is counted with one
// uprobe_multi batch. The functions uprobes can't take (pthread_spin_lock
// starts with a lock-prefixed instruction) are left out of the batch and
// reported, instead of failing it and sending 2,000 functions to single
// uprobes, whose detach took minutes.
func TestKernelFunccountLibcWildcard(t *testing.T) {
	requireRoot(t)
	if !haveFeature(t, "uprobe_multi") {
		return
	}
	// libc where the system has it shared; the test VMs have none, so
	// there every function of a statically linked fixture (libc's
	// included) instead.
	pattern := "c:*"
	if os.Getenv("BTOOL_WORKLOADS") != "" {
		pattern = buildC(t, "calls.c") + ":*"
	}
	list, _, code := runBtool(t, "list", pattern)
	if code != 0 {
		t.Fatalf("list %s: exit %d", pattern, code)
	}
	matches := strings.Count(list, "\n")
	out, errs, code := runBtool(t, "funccount", "-v", "-d", "0.1", pattern)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	attached, skipped, _ := attachReport(t, out, errs)
	if attached+skipped != matches || attached < matches*9/10 {
		t.Fatalf("%d attached + %d reported skipped, of %d functions; stderr:\n%s", attached, skipped, matches, errs)
	}
	if !regexp.MustCompile(`(?m)^\d+ user function target\(s\) attached with uprobe_multi$`).MatchString(errs) ||
		regexp.MustCompile(`(?m)target\(s\) attached with uprobe$`).MatchString(errs) {
		t.Errorf("want every attached function in the uprobe_multi batch, none as single uprobes:\n%s", errs)
	}
	t.Logf("%d functions: %d attached, %d skipped", matches, attached, skipped)
}

// BenchmarkFunccountLibcWildcard: launch to attached and exit of
// funccount 'c:*' (some 2,000 libc functions in one uprobe_multi link).
func BenchmarkFunccountLibcWildcard(b *testing.B) {
	benchLaunch(b, "Tracing", []string{"funccount", "c:*"}, "")
}
