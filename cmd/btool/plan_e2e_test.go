package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitOutput polls btool's stdout until have reports true or time runs
// out, and returns the output.
func waitOutput(t *testing.T, tr *tracer, have func(out string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second * timeScale())
	for time.Now().Before(deadline) {
		if out := tr.out.String(); have(out) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	return tr.out.String()
}

// funcAndMessages returns the FUNC and message of each event line of trace
// output (PID TID COMM FUNC message...).
func funcAndMessages(out string) [][2]string {
	var lines [][2]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] == "PID" {
			continue
		}
		lines = append(lines, [2]string{f[3], strings.Join(f[4:], " ")})
	}
	return lines
}

// TestKernelTraceUSDTSites traces one USDT probe placed at two sites whose
// arguments are in different places (registers at one, a stack slot and
// another register at the other): every event prints the values the
// fixture passed. Reading both sites with the first site's argument spec
// printed "7000 4294967295" for the second.
func TestKernelTraceUSDTSites(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "usdt_sites.c")
	const n = 5
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		want[fmt.Sprintf("%d %d", i, 1000*i)] = true    // site_regs
		want[fmt.Sprintf("%d %d", -1-i, 7000+i)] = true // site_mem
	}
	tr := startBtool(t, "trace", "-v", "u:"+bin+`:pair "%d %ld", arg1, arg2`)
	w := startWorkload(t, bin, strconv.Itoa(n))
	w.run(t)
	waitOutput(t, tr, func(out string) bool { return len(funcAndMessages(out)) >= 2*n })
	out := tr.stop(syscall.SIGINT)
	if !strings.Contains(tr.err.String(), "2 targets in 2 layouts") {
		t.Errorf("want the two sites planned as two layouts; stderr:\n%s", tr.err.String())
	}
	got := map[string]bool{}
	for _, l := range funcAndMessages(out) {
		if l[0] != "pair" {
			t.Errorf("FUNC %q, want pair", l[0])
		}
		if !want[l[1]] {
			t.Errorf("unexpected event %q", l[1])
		}
		got[l[1]] = true
	}
	for v := range want {
		if !got[v] {
			t.Errorf("missing event %q", v)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestKernelTraceTracepointWildcardFormats traces sched_process_exec and
// sched_process_exit, whose pid fields are at different offsets (12 and
// 24), with one wildcard spec: both events of a child print its pid.
// Reading exit with exec's format printed bytes of comm instead.
func TestKernelTraceTracepointWildcardFormats(t *testing.T) {
	requireRoot(t)
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	tr := startBtool(t, "trace", `t:sched:sched_process_e* "pid=%d", args->pid`)
	child := exec.Command(truePath)
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	pid := "pid=" + strconv.Itoa(child.Process.Pid)
	has := func(out, event string) bool {
		for _, l := range funcAndMessages(out) {
			if l == [2]string{event, pid} {
				return true
			}
		}
		return false
	}
	waitOutput(t, tr, func(out string) bool { return has(out, "sched_process_exec") && has(out, "sched_process_exit") })
	out := tr.stop(syscall.SIGINT)
	for _, ev := range []string{"sched_process_exec", "sched_process_exit"} {
		if !has(out, ev) {
			t.Errorf("no %s event with %s:\n%s", ev, pid, out)
		}
	}
}
