// Package flamegraph draws folded stacks as a self-contained interactive
// SVG flame graph: btool's answer to piping stacks through flamegraph.pl
// (issue 9, "Flame graphs without Perl"). It uses the standard library
// only, and the SVG it writes uses no external resource: it opens in a
// browser from a file.
//
// # Folded stacks
//
// The input is the folded form of Brendan Gregg's stackcollapse scripts,
// one stack a line, frames root first, separated by ';', then a space and
// a count:
//
//	bash;main;readline;-;entry_SYSCALL_64;do_syscall_64;__x64_sys_read 30
//
// btool's stackcount, profile and offcputime print the process name first,
// then the user frames, a "-" delimiter and the kernel frames (-K or -U
// leave one part out); the count is samples or events, or microseconds off
// CPU. [ParseFolded] reads this text into [Stack] values; callers that
// hold stacks already build them directly.
//
// # The graph
//
// [Write] merges the stacks into a tree: a frame is one box per distinct
// path from the root, as wide as the sum of the counts of the stacks
// through it, and its callees sit on it side by side, sorted by name (as
// flamegraph.pl does: the x axis is not time). An "all" box holding the
// total is at the bottom, or at the top with Options.Inverted (an icicle
// graph). The delimiter gets no box: kernel frames continue right above
// the user frames. Boxes narrower than Options.MinWidth are left out, and
// their counts stay in their parents'.
//
// Colours say what kind of code a frame is ([FrameKind]): kernel orange,
// native user code red, Go aqua, JIT green, process names grey. A legend
// under the title lists the kinds drawn. Within a kind's hue range, the
// shade comes from a hash of the function's name, so a function has the
// same colour in every graph and neighbouring boxes stand apart.
// [DefaultKind] gives the rules; Options.Kind replaces them.
//
// # Interactivity
//
// Embedded JavaScript and CSS (nothing is fetched) make the SVG a small
// application:
//
//   - hovering a box shows its tooltip (the SVG <title>: name, count and
//     percentage of the total) and the same line at the bottom;
//   - clicking a box zooms: it fills the width, its callees scale with
//     it, its callers stay visible (dimmed) below it, everything else
//     hides; "Reset Zoom" at the top left, or a click on "all", undoes it;
//   - "Search" at the top right, Ctrl-F or F3 ask for a JavaScript regular
//     expression; matching boxes turn magenta and the bottom right shows
//     the share of the total they hold (a match inside a match counts
//     once); "Reset Search" or Escape clear it.
//
// # The SVG, for programs
//
// Every box is a <g class="f"> element directly under <g id="frames">, in
// preorder (a box, then its callees' subtrees left to right), with
// data-depth (0 for "all", 1 for the first frame) and data-count (the
// exact total, unlike the rounded tooltip), holding a <title> "NAME (COUNT
// UNIT, PCT%)", a <rect> and, when wide enough, a <text> label. A path
// and its total can thus be read back with any XML parser, as the tests
// do. Names are written with invalid UTF-8, control characters and
// characters XML cannot hold replaced by U+FFFD, and XML metacharacters
// escaped.
package flamegraph
