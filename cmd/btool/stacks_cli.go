package main

import (
	"io"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/btool/btool/multitool"
)

// The stack tools' run functions; tests swap them for fakes.
var (
	runStackcount = multitool.Stackcount
	runProfile    = multitool.Profile
	runOffcputime = multitool.Offcputime
)

// stackFlags are the common flags of the stack tools: like commonFlags,
// but --verbose has no -v (stackcount's -v shows addresses, as bcc's).
func stackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "no-feature", Usage: "treat kernel `FEATURE`s as missing, to force fallbacks (" + featureNames() + ")"},
		&cli.StringFlag{Name: "ready-file", Usage: "write `FILE` once every probe is attached", Hidden: true},
		&cli.BoolFlag{Name: "verbose", Usage: "explain attach decisions (mechanism chosen, fallbacks, timings)"},
	}
}

// stackRun holds the options profile and offcputime share.
type stackRun struct {
	pid                             int
	kernelOnly, userOnly, delimiter bool
	folded, json, dryRun            bool
	svg                             string
	duration                        time.Duration
}

// stackRunFlags returns the flags behind stackRun, then stackFlags; the
// usages say what -p selects, what -f prints and what --svg draws.
func stackRunFlags(pidUsage, foldedUsage, svgUsage string) []cli.Flag {
	return append([]cli.Flag{
		&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: pidUsage},
		&cli.StringFlag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `SECONDS`"},
		&cli.BoolFlag{Name: "kernel-stacks-only", Aliases: []string{"K"}, Usage: "kernel stacks only"},
		&cli.BoolFlag{Name: "user-stacks-only", Aliases: []string{"U"}, Usage: "user stacks only"},
		&cli.BoolFlag{Name: "delimited", Usage: "insert -- between kernel and user stacks"},
		&cli.BoolFlag{Name: "folded", Aliases: []string{"f"}, Usage: foldedUsage},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON object at the end"},
		&cli.StringFlag{Name: "svg", Usage: svgUsage},
		&cli.BoolFlag{Name: "dump", Usage: "print the generated BPF instructions and exit"},
	}, stackFlags()...)
}

// parseStackRun reads and checks stackRun's flags: DURATION comes from -d
// or the one argument. Errors are usage errors.
func parseStackRun(c *cli.Context) (stackRun, error) {
	r := stackRun{
		pid: c.Int("pid"), kernelOnly: c.Bool("kernel-stacks-only"), userOnly: c.Bool("user-stacks-only"),
		delimiter: c.Bool("delimited"), folded: c.Bool("folded"), json: c.Bool("json"), svg: c.String("svg"), dryRun: c.Bool("dump"),
	}
	if c.Args().Len() > 1 {
		return r, usage("expected at most one DURATION, got %d arguments", c.Args().Len())
	}
	if r.kernelOnly && r.userOnly {
		return r, usage("-K and -U are mutually exclusive: both stacks are the default")
	}
	if r.folded && r.json {
		return r, usage("-f and --json are mutually exclusive")
	}
	d := c.String("duration")
	if c.Args().Len() == 1 {
		if d != "" {
			return r, usage("give the duration once: -d or an argument, not both")
		}
		d = c.Args().First()
	}
	var err error
	if r.duration, err = secondsOrZero("d", d); err != nil {
		return r, err
	}
	return r, multitool.CheckPID("-p", int64(r.pid))
}

// cpuShort is the short name of the command's --cpu flag: c or C.
func cpuShort(c *cli.Context) string {
	for _, f := range c.Command.Flags {
		if n := f.Names(); n[0] == "cpu" && len(n) > 1 {
			return n[1]
		}
	}
	return "c"
}

// cpuFlag parses the --cpu flag (-c, or profile's -C): -1 when unset.
func cpuFlag(c *cli.Context) (int, error) {
	s := c.String("cpu")
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, usage("-%s: invalid CPU %q", cpuShort(c), s)
	}
	if err := multitool.CheckCPU("-"+cpuShort(c), int64(n)); err != nil {
		return 0, err
	}
	return n, nil
}

func stackcountCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "stackcount",
		Usage:     "count the kernel and user stacks that lead to functions, tracepoints or USDT probes",
		ArgsUsage: "PATTERN",
		Description: "PATTERN uses funccount's grammar: func, lib:func, p:lib:func, t:category:event,\n" +
			"u:lib:probe, with * wildcards (or a regular expression with -r). Examples:\n" +
			"  btool stackcount 't:sched:sched_switch'     # kernel and user stacks of context switches\n" +
			"  btool stackcount -P -U 'c:malloc'           # who calls malloc, per process\n" +
			"  btool stackcount -f -D 5 --svg out.svg 't:block:block_rq_issue'",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace only process `PID` (implies -P)"},
			&cli.StringFlag{Name: "cpu", Aliases: []string{"c"}, Usage: "trace only on `CPU`"},
			&cli.StringFlag{Name: "interval", Aliases: []string{"i"}, Usage: "print every `SECONDS`"},
			&cli.StringFlag{Name: "duration", Aliases: []string{"D"}, Usage: "stop after `SECONDS`"},
			&cli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "print a HH:MM:SS line with each summary"},
			&cli.BoolFlag{Name: "regexp", Aliases: []string{"r"}, Usage: "PATTERN's function part is a regular expression"},
			&cli.BoolFlag{Name: "offset", Aliases: []string{"s"}, Usage: "show symbol offsets"},
			&cli.BoolFlag{Name: "perpid", Aliases: []string{"P"}, Usage: "stacks per process"},
			&cli.BoolFlag{Name: "kernel-stacks-only", Aliases: []string{"K"}, Usage: "kernel stacks only"},
			&cli.BoolFlag{Name: "user-stacks-only", Aliases: []string{"U"}, Usage: "user stacks only"},
			&cli.BoolFlag{Name: "address", Aliases: []string{"v"}, Usage: "show raw addresses"},
			&cli.BoolFlag{Name: "delimited", Aliases: []string{"d"}, Usage: "insert -- between kernel and user stacks"},
			&cli.BoolFlag{Name: "folded", Aliases: []string{"f"}, Usage: "folded output, one stack a line (flamegraph.pl, speedscope)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per summary"},
			&cli.StringFlag{Name: "svg", Usage: "write a flame graph of the whole run to `FILE`"},
			&cli.BoolFlag{Name: "dump", Usage: "print the generated BPF instructions and exit"},
			probeLimitFlag(),
		}, stackFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usage("expected exactly one PATTERN, got %d (quote patterns that contain * or spaces)", c.Args().Len())
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.StackcountOptions{
				Pattern: c.Args().First(), Regex: c.Bool("regexp"), PID: c.Int("pid"),
				Timestamp: c.Bool("timestamp"), Offsets: c.Bool("offset"), PerProcess: c.Bool("perpid"),
				KernelOnly: c.Bool("kernel-stacks-only"), UserOnly: c.Bool("user-stacks-only"),
				Addrs: c.Bool("address"), Delimiter: c.Bool("delimited"), Folded: c.Bool("folded"),
				JSON: c.Bool("json"), SVG: c.String("svg"), DryRun: c.Bool("dump"),
			}
			if o.KernelOnly && o.UserOnly {
				return usage("-K and -U are mutually exclusive: both stacks are the default")
			}
			if o.Folded && o.JSON {
				return usage("-f and --json are mutually exclusive")
			}
			if o.ProbeLimit, err = probeLimit(c); err != nil {
				return err
			}
			if o.Interval, err = intervalFlag(c); err != nil {
				return err
			}
			if o.Duration, err = secondsOrZero("D", c.String("duration")); err != nil {
				return err
			}
			if o.CPU, err = cpuFlag(c); err != nil {
				return err
			}
			if err := multitool.CheckPID("-p", int64(o.PID)); err != nil {
				return err
			}
			return runStackcount(c.Context, o, env)
		},
	}
}

func profileCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "profile",
		Usage:     "sample on-CPU kernel and user stacks at a timed interval (a CPU flame graph's input)",
		ArgsUsage: "[DURATION]",
		Description: "Samples every CPU (or one process) -F times a second through perf events and counts\n" +
			"the stacks in the kernel. Examples:\n" +
			"  btool profile -d 10                          # all CPUs, 49 Hz, 10 seconds\n" +
			"  btool profile -F 99 -p 181 -f > out.folded   # one process, folded\n" +
			"  btool profile -d 5 --svg cpu.svg             # a flame graph",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append(stackRunFlags("sample only process `PID`", "folded output, one stack a line (flamegraph.pl, speedscope)", "write a flame graph of the run to `FILE`"),
			&cli.StringFlag{Name: "cpu", Aliases: []string{"C"}, Usage: "sample only on `CPU`"},
			&cli.StringFlag{Name: "frequency", Aliases: []string{"F"}, Usage: "sample `HZ` times a second on each CPU (default 49)"},
			&cli.BoolFlag{Name: "include-idle", Aliases: []string{"I"}, Usage: "include the idle task's samples"},
		),
		Action: func(c *cli.Context) error {
			r, err := parseStackRun(c)
			if err != nil {
				return err
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.ProfileOptions{
				PID: r.pid, KernelOnly: r.kernelOnly, UserOnly: r.userOnly, IncludeIdle: c.Bool("include-idle"),
				Delimiter: r.delimiter, Folded: r.folded, JSON: r.json, SVG: r.svg, DryRun: r.dryRun, Duration: r.duration,
			}
			if s := c.String("frequency"); s != "" {
				n, err := strconv.ParseUint(s, 10, 64)
				if err != nil || n == 0 || n > multitool.MaxProfileHz {
					return usage("-F: expected a frequency from 1 to %d Hz, got %q", multitool.MaxProfileHz, s)
				}
				o.Freq = n
			}
			if o.CPU, err = cpuFlag(c); err != nil {
				return err
			}
			return runProfile(c.Context, o, env)
		},
	}
}

func offcputimeCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "offcputime",
		Usage:     "sum the time threads are blocked (off CPU) per kernel and user stack",
		ArgsUsage: "[DURATION]",
		Description: "Times every block from the scheduler's context switch, in the kernel. Examples:\n" +
			"  btool offcputime -d 5                         # all threads, 5 seconds\n" +
			"  btool offcputime -p 181 -m 1000 -f > out.folded  # blocks of 1 ms or more, folded (us)\n" +
			"  btool offcputime -d 5 --svg offcpu.svg        # an off-CPU flame graph",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: append(stackRunFlags("trace only process `PID`", "folded output, microseconds as counts", "write an off-CPU flame graph to `FILE`"),
			&cli.StringFlag{Name: "min-block-time", Aliases: []string{"m"}, Usage: "skip blocks shorter than `US` microseconds"},
			&cli.StringFlag{Name: "max-block-time", Aliases: []string{"M"}, Usage: "skip blocks longer than `US` microseconds"},
		),
		Action: func(c *cli.Context) error {
			r, err := parseStackRun(c)
			if err != nil {
				return err
			}
			env, err := newEnv(c, stdout, stderr)
			if err != nil {
				return err
			}
			o := multitool.OffcputimeOptions{
				PID: r.pid, KernelOnly: r.kernelOnly, UserOnly: r.userOnly, Delimiter: r.delimiter,
				Folded: r.folded, JSON: r.json, SVG: r.svg, DryRun: r.dryRun, Duration: r.duration,
			}
			for _, f := range []struct {
				short, long string
				dst         *uint64
			}{{"m", "min-block-time", &o.MinUs}, {"M", "max-block-time", &o.MaxUs}} {
				if s := c.String(f.long); s != "" {
					n, err := strconv.ParseUint(s, 10, 64)
					if err != nil {
						return usage("-%s: expected a number of microseconds, got %q", f.short, s)
					}
					*f.dst = n
				}
			}
			if c.String("max-block-time") != "" && o.MaxUs == 0 {
				return usage("-M: must be at least 1 microsecond")
			}
			if o.MaxUs != 0 && o.MaxUs < o.MinUs {
				return usage("-M %d is below -m %d", o.MaxUs, o.MinUs)
			}
			return runOffcputime(c.Context, o, env)
		},
	}
}
