package flamegraph

import "testing"

func TestDefaultKind(t *testing.T) {
	tests := []struct {
		frame string
		depth int
		after bool
		want  FrameKind
	}{
		{"bash", 0, false, Other},
		{"main.main", 0, false, Other}, // depth 0 is the process name
		{"do_syscall_64", 3, true, Kernel},
		{"runtime.mallocgc", 3, true, Kernel}, // the delimiter wins
		{"vfs_read_[k]", 2, false, Kernel},
		{"Interpreter_[j]", 2, false, JIT},
		{"LFoo;bar_[j]", 2, true, JIT},

		{"main.main", 1, false, Go},
		{"runtime.mallocgc", 1, false, Go},
		{"runtime.goexit.abi0", 1, false, Go},
		{"main.main+0x1f", 1, false, Go},
		{"net/http.(*conn).serve", 1, false, Go},
		{"net/http.HandlerFunc.ServeHTTP", 1, false, Go},
		{"main.(T).M", 1, false, Go},
		{"github.com/btool/btool/multitool.(*Session).Run.func1", 1, false, Go},
		{"main.main.func1.2", 1, false, Go},
		{"main.work.gowrap1", 1, false, Go},
		{"main.work.deferwrap1", 1, false, Go},
		{"gopkg.in/yaml.v3.(*parser).parse", 1, false, Go},
		{"example.com/m/v2.Map[go.shape.int,go.shape.string]", 1, false, Go},
		{"slices.SortFunc[go.shape.[]int,go.shape.int].func1", 1, false, Go},
		{"github.com/google/go-cmp/cmp.Equal", 1, false, Go},
		{"main.inlined_[i]", 1, false, Go},

		{"main", 1, false, User},
		{"__libc_start_main", 1, false, User},
		{"_start", 1, false, User},
		{"[unknown]", 1, false, User},
		{"[vdso]", 1, false, User},
		{"foo.constprop.0", 1, false, User},
		{"foo.isra.0", 1, false, User},
		{"foo.part.3", 1, false, User},
		{"foo.cold", 1, false, User},
		{"foo.llvm.1234567", 1, false, User},
		{"libc.so.6", 1, false, User},
		{"libfoo.so", 1, false, User},
		{"ld-linux-x86-64.so.2", 1, false, User},
		{"python3.12", 1, false, User},
		{"std::vector<int>::push_back", 1, false, User},
		{"core::ptr::drop_in_place<alloc::string::String>", 1, false, User},
		{"operator new(unsigned long)", 1, false, User},
		{"LazyCompile:*foo /app/x.js:12", 1, false, User},
		{"a.b]", 1, false, User},
		{"a.[b", 1, false, User},
		{"main.", 1, false, User},
		{".main", 1, false, User},
		{"main..f", 1, false, User},
		{"main.(*).f", 1, false, User},
		{"main.(*T.f", 1, false, User},
		{"1pkg.F", 1, false, User},
		{"pkg.1", 1, false, User},
	}
	for _, tt := range tests {
		if have := DefaultKind(tt.frame, tt.depth, tt.after); have != tt.want {
			t.Errorf("DefaultKind(%q, %d, %v) = %v, want %v", tt.frame, tt.depth, tt.after, have, tt.want)
		}
	}
}

func TestFrameKindString(t *testing.T) {
	for k, want := range map[FrameKind]string{Other: "other", Kernel: "kernel", User: "user", Go: "Go", JIT: "JIT", 99: "other"} {
		if have := k.String(); have != want {
			t.Errorf("FrameKind(%d).String() = %q, want %q", k, have, want)
		}
	}
}
