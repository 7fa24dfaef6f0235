// Command btool is a BPF tracing multitool in one static binary that needs
// no compiler, headers or Python: bcc's trace, funccount, funclatency and
// argdist, plus list (probe discovery) and features (what the kernel
// supports). This package only maps command-line flags onto package
// multitool; see docs/ for the tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/multitool"
	"github.com/btool/btool/specparse"
)

// Exit codes: distinct for usage errors and runtime failures.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
	// exitInterrupted is the shell's code for death by SIGINT, used when a
	// second Ctrl-C cuts the detach short.
	exitInterrupted = 130
)

// The tools run calls; tests (FuzzCLI) swap them for fakes so that
// arbitrary command lines exercise flag parsing and validation without
// attaching anything.
var (
	runTrace     = multitool.Trace
	runFunccount = multitool.Funccount
	runFunclat   = multitool.Funclatency
	runArgdist   = multitool.Argdist
	runList      = multitool.List
	runFeatures  = multitool.PrintFeatures
)

func main() {
	// A Ctrl-C or SIGTERM arriving as a run ends on its own (-d, -M, the
	// -p process exiting), after run stops listening, must not kill btool
	// with the signal's exit status: this channel, never read, keeps the
	// default action away until the process exits.
	signal.Notify(make(chan os.Signal, 1), os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes one btool command line and returns the exit code. It never
// lets a panic escape as a Go stack trace; deferred detaches still run.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "btool: internal error: %v (please report this)\n", r)
			code = exitRuntime
		}
	}()
	// Writes to a closed pipe return EPIPE instead of killing the process
	// before it detaches its probes.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := interruptible(cancel, stderr, os.Exit)
	defer stop()
	if f, ok := stdout.(*os.File); ok {
		ctx = multitool.WatchOutput(ctx, f)
	}

	app := newApp(stdout, stderr)
	permuted, err := permuteArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, permuted)
	}
	if err == nil {
		return exitOK
	}
	// A run cut short by Ctrl-C, SIGTERM or a closed output (`| head`)
	// ended normally, even if it was still attaching: the tools detach on
	// the way out.
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, syscall.EPIPE)) {
		return exitOK
	}
	var ue *multitool.UsageError
	if errors.As(err, &ue) {
		fmt.Fprint(stderr, renderError(commandName(args), ue.Spec, ue.Err))
		return exitUsage
	}
	var se *multitool.SpecError
	if errors.As(err, &se) {
		fmt.Fprint(stderr, renderError(commandName(args), se.Spec, se.Err))
		return exitRuntime
	}
	fmt.Fprint(stderr, renderError(commandName(args), "", err))
	return exitRuntime
}

// interruptible cancels the run on the first SIGINT or SIGTERM, so tools
// detach and print their summary. A second signal exits at once through
// exit, for when detaching or a lagging output takes too long: links and
// programs are file descriptors, so the kernel removes every probe when
// the process exits. The returned function stops listening.
func interruptible(cancel func(), stderr io.Writer, exit func(int)) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "btool: interrupted again: exiting now; the kernel removes the probes as the process exits")
			exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

func commandName(args []string) string {
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// renderError prints "btool: cmd: message" and, for errors positioned in a
// spec, the spec with a caret line under the offending part.
func renderError(cmd, spec string, err error) string {
	prefix := "btool: "
	if cmd != "" {
		prefix += cmd + ": "
	}
	var list specparse.ErrorList
	var one *specparse.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
	case errors.As(err, &one):
		list = specparse.ErrorList{one}
	default:
		return prefix + err.Error() + "\n"
	}
	var b strings.Builder
	for _, e := range list {
		fmt.Fprintf(&b, "%s%s\n", prefix, e.Msg)
		if spec != "" {
			line, caret := specparse.Window(spec, int(e.Pos), int(e.End))
			fmt.Fprintf(&b, "    %s\n    %s\n", line, caret)
		}
	}
	return b.String()
}

func usage(format string, args ...any) error {
	return &multitool.UsageError{Err: fmt.Errorf(format, args...)}
}

// commonFlags are accepted by every command.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "no-feature", Usage: "treat kernel `FEATURE`s as missing, to force fallbacks (" + featureNames() + ")"},
		&cli.StringFlag{Name: "ready-file", Usage: "write `FILE` once every probe is attached", Hidden: true},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "explain attach decisions (mechanism chosen, fallbacks, timings)"},
	}
}

func featureNames() string {
	var s []string
	for _, f := range feature.AllFeatures {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

func newEnv(c *cli.Context, stdout, stderr io.Writer) (multitool.Env, error) {
	f, err := feature.NewFeatures(c.StringSlice("no-feature")...)
	if err != nil {
		return multitool.Env{}, usage("--no-feature: %v", err)
	}
	return multitool.Env{
		Out: stdout, Err: stderr, Features: f,
		Verbose:   c.Bool("verbose"),
		ReadyFile: c.String("ready-file"),
	}, nil
}

// intervalFlag returns the command's -i/--interval: 0 when not given, else
// at least minInterval. Errors are usage errors.
func intervalFlag(c *cli.Context) (time.Duration, error) {
	d, err := seconds("i", c.String("interval"))
	if err == nil && d != 0 && d < minInterval {
		return 0, usage("-i: %s is too short (at least %v)", c.String("interval"), minInterval)
	}
	return d, err
}

// seconds parses bcc-style durations: a number of seconds ("5", "0.5") or a
// Go duration ("500ms").
func seconds(flag, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case math.IsNaN(f):
			return 0, usage("-%s: %s is not a number of seconds", flag, s)
		case f <= 0:
			return 0, usage("-%s: must be positive, got %s", flag, s)
		case f*float64(time.Second) >= math.MaxInt64:
			return 0, usage("-%s: %s is too long (at most %d seconds)", flag, s, int64(math.MaxInt64/time.Second))
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usage("-%s: invalid duration %q (seconds, or a duration like 500ms)", flag, s)
	}
	return d, nil
}

// secondsOrZero is seconds, but accepts 0 (and "0s") as "not set".
func secondsOrZero(flag, s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == 0 {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d == 0 {
		return 0, nil
	}
	return seconds(flag, s)
}

// minInterval is the shortest -i: summaries faster than this are
// unreadable and cost more than the counting.
const minInterval = 10 * time.Millisecond

// maxBufferPages is the largest -b: 1 GiB with 4 KiB pages, per CPU for the
// perf buffer.
const maxBufferPages = 1 << 18

// bufferPages validates -b and rounds it up to a power of two, which both
// the ring buffer (its total size) and the perf buffer (per CPU) must be;
// -v says when it rounded.
func bufferPages(n int, env multitool.Env) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if n < 0 || n > maxBufferPages {
		return 0, usage("-b: %d pages is out of range (1 to %d pages)", n, maxBufferPages)
	}
	p := 1
	for p < n {
		p <<= 1
	}
	if p != n && env.Verbose {
		fmt.Fprintf(env.Err, "-b: rounded %d pages up to %d: the event buffer is a power-of-two number of pages\n", n, p)
	}
	return p, nil
}

// probeLimitFlag is --probe-limit, shared by the commands that attach
// probes.
func probeLimitFlag() cli.Flag {
	return &cli.StringFlag{Name: "probe-limit", Usage: fmt.Sprintf("attach at most `N` targets per probe where each costs its own link "+
		"(fentry, kprobes, tracepoints, uprobes; not kprobe_multi, uprobe_multi or the raw syscall tracepoints); 0 for no limit (default %d)", multitool.DefaultProbeLimit)}
}

// probeLimit returns --probe-limit as multitool options take it: 0 for
// the default, -1 for none.
func probeLimit(c *cli.Context) (int, error) {
	s := c.String("probe-limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, usage("--probe-limit: expected a number of probes (0 for no limit), got %q", s)
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	return &multitool.UsageError{Err: err}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "btool",
		Usage: "BPF tracing multitool: bcc-style trace, funccount, funclatency and argdist, probe discovery (list), no clang or headers",
		Description: "Run 'btool COMMAND -h' for a command's options. Probe specs follow bcc's grammar;\n" +
			"see docs/ in the source tree for examples.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		OnUsageError:    onUsageError,
		ExitErrHandler:  func(*cli.Context, error) {},
		Commands: []*cli.Command{
			traceCommand(stdout, stderr),
			funccountCommand(stdout, stderr),
			funclatencyCommand(stdout, stderr),
			argdistCommand(stdout, stderr),
			stackcountCommand(stdout, stderr),
			profileCommand(stdout, stderr),
			offcputimeCommand(stdout, stderr),
			listCommand(stdout, stderr),
			featuresCommand(stdout, stderr),
		},
		CommandNotFound: func(c *cli.Context, name string) {},
	}
	app.Action = func(c *cli.Context) error {
		if c.Args().Len() > 0 {
			return usage("unknown command %q (commands: trace, funccount, funclatency, argdist, stackcount, profile, offcputime, list, features)", c.Args().First())
		}
		return cli.ShowAppHelp(c)
	}
	return app
}

func funccountCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "funccount",
		Usage:     "count calls of kernel/user functions, tracepoints or USDT probes",
		ArgsUsage: "PATTERN",
		Description: "PATTERN is func, p::func, lib:func, p:lib:func, /path:func, t:category:event or\n" +
			"u:lib:probe, with * wildcards (or a regular expression with -r). Examples:\n" +
			"  btool funccount 'vfs_*'                   # kernel functions\n" +
			"  btool funccount -d 5 't:syscalls:sys_enter_*'\n" +
			"  btool funccount -p 181 'c:malloc'         # libc malloc in PID 181",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "count only process `PID`"},
			&cli.StringFlag{Name: "interval", Aliases: []string{"i"}, Usage: "print and clear counts every `SECONDS`"},
			&cli.StringFlag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `SECONDS`"},
			&cli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "print a HH:MM:SS timestamp with each summary"},
			&cli.BoolFlag{Name: "regexp", Aliases: []string{"r"}, Usage: "PATTERN's function part is a regular expression"},
			&cli.StringFlag{Name: "cpu", Aliases: []string{"c"}, Usage: "count only on `CPU`"},
			&cli.BoolFlag{Name: "dump", Aliases: []string{"D"}, Usage: "print the generated BPF instructions and exit"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per summary"},
			probeLimitFlag(),
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usage("expected exactly one PATTERN, got %d (quote patterns that contain * or spaces)", c.Args().Len())
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.FunccountOptions{
				Pattern:   c.Args().First(),
				Regex:     c.Bool("regexp"),
				PID:       c.Int("pid"),
				CPU:       -1,
				Timestamp: c.Bool("timestamp"),
				DryRun:    c.Bool("dump"),
				JSON:      c.Bool("json"),
			}
			if o.ProbeLimit, err = probeLimit(c); err != nil {
				return err
			}
			if o.Interval, err = intervalFlag(c); err != nil {
				return err
			}
			// -d 0 means no duration, as in bcc.
			if o.Duration, err = secondsOrZero("d", c.String("duration")); err != nil {
				return err
			}
			if s := c.String("cpu"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 0 {
					return usage("-c: invalid CPU %q", s)
				}
				if err := multitool.CheckCPU("-c", int64(n)); err != nil {
					return err
				}
				o.CPU = n
			}
			if err := multitool.CheckPID("-p", int64(o.PID)); err != nil {
				return err
			}
			return runFunccount(c.Context, o, env)
		},
	}
}

func funclatencyCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "funclatency",
		Usage:     "time kernel/user functions or syscalls: a log2 histogram of their latency",
		ArgsUsage: "PATTERN | --from SPEC --to SPEC",
		Description: "PATTERN is func (kernel), lib:func or /path:func (user), or a syscall name\n" +
			"(sys_read, __x64_sys_read), with * wildcards (or a regular expression with -r). Examples:\n" +
			"  btool funclatency vfs_read                # kernel function, in nanoseconds\n" +
			"  btool funclatency -u sys_read             # the read syscall, in microseconds\n" +
			"  btool funclatency -m -F 'c:*sleep'        # one histogram per libc function\n" +
			"  btool funclatency -p 181 -i 5 /bin/app:main.handle\n" +
			"  btool funclatency -u --from 'p::blk_mq_start_request(struct request *rq):u64:rq' \\\n" +
			"                       --to 'p::blk_mq_end_request(struct request *rq):u64:rq'",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "time only process `PID`"},
			&cli.StringFlag{Name: "interval", Aliases: []string{"i"}, Usage: "print and clear the histogram every `SECONDS`"},
			&cli.StringFlag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `SECONDS`"},
			&cli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "print a HH:MM:SS timestamp with each summary"},
			&cli.BoolFlag{Name: "microseconds", Aliases: []string{"u"}, Usage: "histogram in microseconds"},
			&cli.BoolFlag{Name: "milliseconds", Aliases: []string{"m"}, Usage: "histogram in milliseconds"},
			&cli.BoolFlag{Name: "function", Aliases: []string{"F"}, Usage: "one histogram per function"},
			&cli.BoolFlag{Name: "regexp", Aliases: []string{"r"}, Usage: "PATTERN's function part is a regular expression"},
			&cli.IntFlag{Name: "level", Aliases: []string{"l"}, Value: multitool.DefaultLatencyLevels, Usage: "time up to `LEVEL` nested calls per thread"},
			&cli.BoolFlag{Name: "dump", Aliases: []string{"D"}, Usage: "print the generated BPF instructions and exit"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per summary"},
			&cli.StringFlag{Name: "from", Usage: "two-probe latency: start at `SPEC` (argdist grammar; its expressions are the key, none for the thread)"},
			&cli.StringFlag{Name: "to", Usage: "two-probe latency: end at `SPEC`, whose expressions give the key of the start it ends"},
			&cli.IntFlag{Name: "max-pending", Usage: fmt.Sprintf("two-probe latency: at most `N` starts wait for their end; older ones are evicted and counted (default %d)", multitool.DefaultMaxPending)},
			probeLimitFlag(),
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			pair := c.IsSet("from") || c.IsSet("to")
			switch {
			case pair && c.Args().Len() != 0:
				return usage("give a PATTERN, or --from and --to, not both")
			case !pair && c.Args().Len() != 1:
				return usage("expected exactly one PATTERN, got %d (quote patterns that contain * or spaces)", c.Args().Len())
			case c.IsSet("max-pending") && c.Int("max-pending") < 1:
				return usage("--max-pending: N must be at least 1, got %d", c.Int("max-pending"))
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.FunclatencyOptions{
				Pattern:     c.Args().First(),
				From:        c.String("from"),
				To:          c.String("to"),
				MaxPending:  c.Int("max-pending"),
				Regex:       c.Bool("regexp"),
				PID:         c.Int("pid"),
				Timestamp:   c.Bool("timestamp"),
				Micro:       c.Bool("microseconds"),
				Milli:       c.Bool("milliseconds"),
				PerFunction: c.Bool("function"),
				Levels:      c.Int("level"),
				DryRun:      c.Bool("dump"),
				JSON:        c.Bool("json"),
			}
			if o.Micro && o.Milli {
				return usage("only set one of -m or -u")
			}
			if c.IsSet("level") && (o.Levels < 1 || o.Levels > multitool.MaxLatencyLevels) {
				return usage("-l: LEVEL must be 1 to %d, got %d", multitool.MaxLatencyLevels, o.Levels)
			}
			if o.ProbeLimit, err = probeLimit(c); err != nil {
				return err
			}
			if o.Interval, err = intervalFlag(c); err != nil {
				return err
			}
			if o.Duration, err = secondsOrZero("d", c.String("duration")); err != nil {
				return err
			}
			if err := multitool.CheckPID("-p", int64(o.PID)); err != nil {
				return err
			}
			return runFunclat(c.Context, o, env)
		},
	}
}

func argdistCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "argdist",
		Usage:     "count or histogram the values of expressions at functions, tracepoints or USDT probes, in the kernel",
		ArgsUsage: "(-C|-H|-L|-S SPEC)...",
		Description: "SPEC is bcc's argdist specifier:\n" +
			"  {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]\n" +
			"Types may be left out (an empty part, or _ for one) where BTF, DWARF or the tracepoint knows them.\n" +
			"-C counts events per value of the expressions; -H, -L and -S aggregate the first expression,\n" +
			"per value of the others: a log2 histogram, a linear one (-L MIN,MAX,STEP:SPEC), or\n" +
			"count, sum, average, minimum and maximum. Special variables: $retval, $latency, $entry(param),\n" +
			"$PID (process id), $COMM. Examples:\n" +
			"  btool argdist -H 't:syscalls:sys_enter_read():u64:args->count'\n" +
			"  btool argdist -C 't:raw_syscalls:sys_enter():u32,char*:$PID,$COMM' -T 5\n" +
			"  btool argdist -S 't:syscalls:sys_exit_read():s64,char*:args->ret,$COMM:args->ret > 0#bytes read'\n" +
			"  btool argdist -H 'r::vfs_read():u64:$latency/1000#read latency (us)'",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append([]cli.Flag{
			&cli.GenericFlag{Name: "C", Value: &specList{}, Usage: "count events per key: `SPEC`'s expressions (repeatable)"},
			&cli.GenericFlag{Name: "H", Value: &specList{}, Usage: "log2 histogram of `SPEC`'s first expression, one per key of the others (repeatable)"},
			&cli.GenericFlag{Name: "L", Value: &specList{}, Usage: "linear histogram, per key as -H: `MIN,MAX,STEP:SPEC`, buckets STEP wide from MIN to MAX (repeatable)"},
			&cli.GenericFlag{Name: "S", Value: &specList{}, Usage: "count, sum, average, min and max of `SPEC`'s first expression per key of the others (repeatable)"},
			&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace only process `PID`"},
			&cli.StringFlag{Name: "string-size", Aliases: []string{"z"}, Value: "80", Usage: "capture `N` bytes of string keys"},
			&cli.StringFlag{Name: "interval", Aliases: []string{"i"}, Value: "1", Usage: "print every `SECONDS`"},
			&cli.StringFlag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `SECONDS`"},
			&cli.StringFlag{Name: "number", Aliases: []string{"n"}, Usage: "stop after `COUNT` intervals"},
			&cli.BoolFlag{Name: "cumulative", Aliases: []string{"c"}, Usage: "print totals since the start, not per interval"},
			&cli.StringFlag{Name: "top", Aliases: []string{"T"}, Usage: "print only the top `N` rows of -C and -S tables, and the histograms of the N keys with most events"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"D"}, Usage: "print the generated BPF instructions and exit (-v prints them too, then runs)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per interval"},
			probeLimitFlag(),
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return usage("unexpected argument %q: give each specifier with -C, -H, -L or -S", c.Args().First())
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.ArgdistOptions{
				Counts:     specs(c, "C"),
				Hists:      specs(c, "H"),
				Linears:    specs(c, "L"),
				Stats:      specs(c, "S"),
				PID:        c.Int("pid"),
				Cumulative: c.Bool("cumulative"),
				DryRun:     c.Bool("dry-run"),
				JSON:       c.Bool("json"),
			}
			if len(o.Counts)+len(o.Hists)+len(o.Linears)+len(o.Stats) == 0 {
				return usage("at least one specifier is required: -C, -H, -L or -S SPEC")
			}
			if o.ProbeLimit, err = probeLimit(c); err != nil {
				return err
			}
			if o.StringSize, err = count(c, "z", "string-size", 1, 4096); err != nil {
				return err
			}
			if o.Count, err = count(c, "n", "number", 1, math.MaxInt32); err != nil {
				return err
			}
			if o.Top, err = count(c, "T", "top", 1, math.MaxInt32); err != nil {
				return err
			}
			if o.Interval, err = intervalFlag(c); err != nil {
				return err
			}
			if o.Duration, err = secondsOrZero("d", c.String("duration")); err != nil {
				return err
			}
			if err := multitool.CheckPID("-p", int64(o.PID)); err != nil {
				return err
			}
			return runArgdist(c.Context, o, env)
		},
	}
}

// specList is a repeatable flag whose values are kept whole: argdist
// specs contain commas, which urfave's slice flags would split on. Give
// it one name only: urfave copies a value set through an alias to the
// flag's other names by calling Set again.
type specList struct{ specs []string }

func (l *specList) Set(s string) error { l.specs = append(l.specs, s); return nil }
func (l *specList) String() string     { return strings.Join(l.specs, " ") }

// specs returns the values of a specList flag, in command-line order.
func specs(c *cli.Context, name string) []string {
	if l, ok := c.Generic(name).(*specList); ok {
		return l.specs
	}
	return nil
}

// count parses flag -short (--long) as a whole number in lo..hi; an unset
// flag is 0.
func count(c *cli.Context, short, long string, lo, hi int) (int, error) {
	s := c.String(long)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, usage("-%s: expected a whole number from %d to %d, got %q", short, lo, hi, s)
	}
	return n, nil
}

func listCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list probes: kernel functions, tracepoints, user functions, USDT probes",
		ArgsUsage: "[PATTERN]",
		Description: "PATTERN uses funccount's grammar. Examples:\n" +
			"  btool list 'vfs_*'            # kernel functions\n" +
			"  btool list -v 't:sched:*'     # tracepoints with their fields\n" +
			"  btool list 'c:mall*'          # libc functions\n" +
			"  btool list 'u:/usr/bin/python3:*'   # USDT probes",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "regexp", Aliases: []string{"r"}, Usage: "PATTERN's function part is a regular expression"},
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usage("expected at most one PATTERN, got %d", c.Args().Len())
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			return runList(multitool.ListOptions{Pattern: c.Args().First(), Regex: c.Bool("regexp"), Verbose: c.Bool("verbose")}, env)
		},
	}
}

// permuteArgs lets flags follow positional arguments, as bcc's argparse
// does (`btool funccount 'vfs_*' -d 1`): urfave/cli stops parsing flags at
// the first positional argument, so flags are moved in front of them.
func permuteArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	// Find the command.
	ci := -1
	for i := 1; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			ci = i
			break
		}
	}
	if ci < 0 {
		return args, nil
	}
	cmd := app.Command(args[ci])
	if cmd == nil {
		return args, nil
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	out := append([]string{}, args[:ci+1]...)
	var pos []string
	rest := args[ci+1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		out = append(out, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		// A value-taking flag (or a short-flag cluster ending in one)
		// consumes the next argument.
		last := name
		if !strings.HasPrefix(a, "--") && len(name) > 1 && !takesValue[name] {
			last = name[len(name)-1:]
		}
		if takesValue[last] {
			// The value is the next argument, even one starting with
			// "-" (-d -1 is then refused as negative), but never the
			// end of flags.
			if i+1 >= len(rest) || rest[i+1] == "--" {
				dash := "-"
				if len(last) > 1 {
					dash = "--"
				}
				return nil, usage("flag %s%s needs a value", dash, last)
			}
			out = append(out, rest[i+1])
			i++
		}
	}
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out, nil
}

func featuresCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "show which kernel features and attach mechanisms btool can use here",
		Flags: commonFlags(),
		Action: func(c *cli.Context) error {
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			return runFeatures(env)
		},
	}
}

func traceCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "trace",
		Usage:     "print a line per event of kernel/user functions, tracepoints or USDT probes",
		ArgsUsage: "PROBE [PROBE...]",
		Description: "PROBE is bcc's trace spec: [{p,r}]:[library]:function[(signature)] [(predicate)] [\"format\"[, args]],\n" +
			"t:category:event [(predicate)] [...] or u:library:probe [...]. The signature is optional\n" +
			"(types come from BTF and DWARF), and function names may contain * wildcards. Examples:\n" +
			"  btool trace 'sys_read (arg3 > 20000) \"read %d bytes\", arg3'\n" +
			"  btool trace 't:syscalls:sys_enter_openat \"%s\", args->filename'\n" +
			"  btool trace 'r::vfs_read (retval < 0) \"error %d\", retval'\n" +
			"  btool trace -U 'c:malloc \"%d bytes\", arg1'",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace only process `PID`"},
			&cli.IntFlag{Name: "tid", Aliases: []string{"L"}, Usage: "trace only thread `TID`"},
			&cli.IntFlag{Name: "uid", Value: -1, Usage: "trace only user `UID`"},
			&cli.BoolFlag{Name: "timestamp", Aliases: []string{"t"}, Usage: "print a TIME column: seconds since tracing started"},
			&cli.BoolFlag{Name: "unix-timestamp", Aliases: []string{"u"}, Usage: "with -t, print absolute UNIX time"},
			&cli.BoolFlag{Name: "time", Aliases: []string{"T"}, Usage: "print a TIME column: HH:MM:SS"},
			&cli.BoolFlag{Name: "print-cpu", Aliases: []string{"C"}, Usage: "print a CPU column"},
			&cli.BoolFlag{Name: "kernel-stack", Aliases: []string{"K"}, Usage: "print the kernel stack of each event"},
			&cli.BoolFlag{Name: "user-stack", Aliases: []string{"U"}, Usage: "print the user stack of each event"},
			&cli.BoolFlag{Name: "address", Aliases: []string{"a"}, Usage: "print addresses in stacks"},
			&cli.IntFlag{Name: "max-events", Aliases: []string{"M"}, Usage: "exit after `N` events"},
			&cli.IntFlag{Name: "string-size", Aliases: []string{"Z"}, Value: 80, Usage: "capture `N` bytes of %s strings"},
			&cli.BoolFlag{Name: "include-self", Aliases: []string{"S"}, Usage: "don't skip btool's own events"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only events whose process name contains `NAME`"},
			&cli.StringFlag{Name: "msg-filter", Aliases: []string{"f"}, Usage: "only events whose message contains `TEXT`"},
			&cli.IntFlag{Name: "buffer-pages", Aliases: []string{"b"}, Usage: fmt.Sprintf("event buffer size in `PAGES` (ring buffer total; perf buffer per CPU), rounded up to a power of two, at most %d", maxBufferPages)},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"D"}, Usage: "print the generated BPF instructions and exit"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per event, with typed, named fields"},
			&cli.BoolFlag{Name: "aggregate", Aliases: []string{"A"}, Usage: "count identical events and print each once at the end (needs -M)"},
			&cli.StringFlag{Name: "cgroup-path", Aliases: []string{"c"}, Usage: "trace only tasks in cgroup v2 directory `PATH` (and its children)"},
			probeLimitFlag(),
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				return usage("expected at least one PROBE (quote each probe spec as one argument)")
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.TraceOptions{
				Specs:       c.Args().Slice(),
				PID:         c.Int("pid"),
				TID:         c.Int("tid"),
				UID:         c.Int("uid"),
				Timestamp:   c.Bool("timestamp"),
				UnixTime:    c.Bool("unix-timestamp"),
				Time:        c.Bool("time"),
				CPU:         c.Bool("print-cpu"),
				KernelStack: c.Bool("kernel-stack"),
				UserStack:   c.Bool("user-stack"),
				Address:     c.Bool("address"),
				MaxEvents:   c.Int("max-events"),
				StringSize:  c.Int("string-size"),
				IncludeSelf: c.Bool("include-self"),
				Name:        c.String("name"),
				MsgFilter:   c.String("msg-filter"),
				BufferPages: c.Int("buffer-pages"),
				DryRun:      c.Bool("dry-run"),
				JSON:        c.Bool("json"),
				Aggregate:   c.Bool("aggregate"),
				CgroupPath:  c.String("cgroup-path"),
			}
			if o.ProbeLimit, err = probeLimit(c); err != nil {
				return err
			}
			if o.MaxEvents < 0 {
				return usage("-M: expected a number of events, got %d", o.MaxEvents)
			}
			if o.BufferPages, err = bufferPages(o.BufferPages, env); err != nil {
				return err
			}
			if err := multitool.CheckPID("-p", int64(o.PID)); err != nil {
				return err
			}
			if err := multitool.CheckPID("-L", int64(o.TID)); err != nil {
				return err
			}
			if err := multitool.CheckUID("--uid", int64(o.UID)); err != nil {
				return err
			}
			return runTrace(c.Context, o, env)
		},
	}
}
