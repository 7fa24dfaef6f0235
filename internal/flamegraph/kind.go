package flamegraph

import "strings"

// FrameKind says what kind of code a frame is. Each kind has its own hue
// in the graph; see Options.Kind and DefaultKind.
type FrameKind uint8

// Frame kinds. The zero value is Other.
const (
	Other  FrameKind = iota // process names and anything unclassified: grey
	Kernel                  // kernel functions: orange
	User                    // native user code (C, C++, Rust, ...): red
	Go                      // Go functions: aqua
	JIT                     // JIT-compiled code (from /tmp/perf-PID.map): green
)

var kindNames = [...]string{Other: "other", Kernel: "kernel", User: "user", Go: "Go", JIT: "JIT"}

// String returns "kernel", "user", "Go", "JIT" or "other".
func (k FrameKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

// DefaultKind is the classifier Write uses when Options.Kind is nil. frame
// is the name as drawn, depth its position in the stack (0 is the first
// frame, below which only the "all" box is drawn; the delimiter does not
// count), and afterDelimiter tells whether a "-" frame came before it.
// The rules, first match wins:
//
//   - a name ending in "_[k]" is Kernel and one ending in "_[j]" is JIT
//     (the annotations of Linux perf's stackcollapse-perf.pl --all);
//   - a frame after the "-" delimiter is Kernel (btool's folded form is
//     "comm;user frames;-;kernel frames count");
//   - depth 0 is Other: it is the process name in btool's folded form and
//     in stackcollapse-perf.pl's;
//   - a name shaped like a Go symbol is Go: an import path, a package name,
//     a dot and an identifier, then more identifiers, "(*T)" receivers,
//     closure numbers and generic "[...]" arguments, with an optional
//     "+0x1f" offset: "main.main", "runtime.mallocgc",
//     "net/http.(*conn).serve", "example.com/m/v2.F[...].func1.2". C names
//     that GCC or the linker decorate with dots ("f.constprop.0", "f.cold",
//     "libc.so.6") are not Go;
//   - anything else is User.
//
// It cannot tell JIT frames from others unless annotated: a caller that
// symbolizes through /tmp/perf-PID.map knows them, and says so with its own
// Options.Kind. Likewise a kernel-only folded file has no delimiter, so its
// caller passes a Kind that returns Kernel.
func DefaultKind(frame string, depth int, afterDelimiter bool) FrameKind {
	switch {
	case strings.HasSuffix(frame, "_[k]"):
		return Kernel
	case strings.HasSuffix(frame, "_[j]"):
		return JIT
	case afterDelimiter:
		return Kernel
	case depth == 0:
		return Other
	case isGoName(frame):
		return Go
	}
	return User
}

// gccSuffixes are dot-separated name parts that GCC, LLVM and the linker
// add to C symbols (clones, cold parts, shared object names).
var gccSuffixes = map[string]bool{
	"cold": true, "constprop": true, "isra": true, "part": true, "lto_priv": true,
	"llvm": true, "localalias": true, "plt": true, "cfi": true, "cfi_jt": true,
	"so": true, "specialized": true, "clone": true,
}

// isGoName reports whether s is shaped like a Go function symbol; see
// DefaultKind.
func isGoName(s string) bool {
	s = strings.TrimSuffix(s, "_[i]")
	if i := strings.LastIndex(s, "+0x"); i > 0 && isHex(s[i+3:]) {
		s = s[:i]
	}
	s, ok := dropBrackets(s)
	if !ok || s == "" {
		return false
	}
	slash := strings.LastIndexByte(s, '/')
	for _, c := range []byte(s[:slash+1]) {
		if !(isIdentByte(c) || c == '.' || c == '-' || c == '~' || c == '/') {
			return false
		}
	}
	rest := s[slash+1:]
	dot := strings.IndexByte(rest, '.')
	if dot <= 0 || !isPackage(rest[:dot]) {
		return false
	}
	prev := rest[:dot]
	for _, c := range strings.Split(rest[dot+1:], ".") {
		switch {
		case c == "" || gccSuffixes[c]:
			return false
		case isDigits(c):
			// Only closures are numbered: F.func1.2, F.gowrap1, F.deferwrap1.
			if !(isDigits(prev) || strings.HasPrefix(prev, "func") || strings.HasSuffix(strings.TrimRight(prev, "0123456789"), "wrap")) {
				return false
			}
		case c[0] == '(':
			// A method's receiver: (*T) or (T).
			in := strings.TrimPrefix(c[1:], "*")
			if !strings.HasSuffix(in, ")") || !isIdent(in[:len(in)-1]) {
				return false
			}
		case !isIdent(c):
			return false
		}
		prev = c
	}
	return true
}

// dropBrackets removes balanced "[...]" groups (Go generic arguments); ok
// is false if they don't balance.
func dropBrackets(s string) (string, bool) {
	if strings.IndexByte(s, '[') < 0 && strings.IndexByte(s, ']') < 0 {
		return s, true
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '[':
			depth++
		case c == ']':
			if depth == 0 {
				return "", false
			}
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String(), depth == 0
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// isIdent reports whether s is a Go identifier (any non-ASCII byte counts
// as a letter).
func isIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !isIdentByte(c) {
			return false
		}
	}
	return true
}

// isPackage reports whether s can be the last element of an import path
// as it appears in a symbol ("http", "go-cmp", "yaml").
func isPackage(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' || s[0] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !isIdentByte(c) && c != '-' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
