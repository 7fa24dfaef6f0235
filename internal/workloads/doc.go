// Package workloads holds small static programs that end-to-end tests trace:
// on the host and inside the test VMs, where there is no compiler. Each lives
// in its own directory as a main package; tests get a binary's path with
// testutil.Workload(t, "getpid").
//
//   - getpid -n N: calls the getpid syscall N times (sys_enter_getpid,
//     __x64_sys_getpid, __do_sys_getpid).
//   - swevents -pages N -sleeps K: writes to N fresh pages (N minor page
//     faults), then blocks its main thread (tid = pid) in nanosleep K times
//     (K context switches), for perf software event tests.
//   - readfiles -n N -path P: opens, reads to EOF and closes P N times
//     (do_sys_openat2, vfs_open, vfs_read, ...). P defaults to /proc/self/stat.
//   - readsizes -reads 77x12345,5x0 -opens PATH:3: reads a zero-filled memfd with
//     buffers of known sizes (one read syscall each, returning its size)
//     and opens files known numbers of times, for argdist.
//   - spin -n N: calls the non-inlined Go function main.spinTarget N times,
//     for uprobe tests.
//   - gosleep -n N -g G -d D: G goroutines each call main.sleepTarget N
//     times; each call sleeps D (default 5.5ms), for funclatency tests.
//
// All of them take the flags of package handshake: -sleep D waits D before
// starting and -wait waits for a line (or EOF) on stdin, so that a tracer can
// attach first. Each prints its pid as the first line of stdout, and
// "done <n>" as the last line when the loop finished.
package workloads
