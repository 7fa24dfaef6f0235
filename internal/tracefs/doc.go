// Package tracefs finds and reads the kernel's tracing file system: the
// tracefs mount point, available_filter_functions, available_events, the
// tracepoint format files and the debugfs kprobe blacklist.
//
// Every reader parses its file once per process and caches the result; the
// returned slices and maps are shared and must not be modified. Errors for
// missing files wrap [os.ErrNotExist].
//
// See https://docs.kernel.org/trace/ftrace.html and
// https://docs.kernel.org/trace/events.html.
package tracefs
