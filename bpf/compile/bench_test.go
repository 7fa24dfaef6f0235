package compile

import (
	"testing"

	"github.com/btool/btool/specparse"
)

// BenchmarkCompileSpec: parse, check and generate one trace spec, the
// compile half of launch-to-attached (target: at most 1 ms).
func BenchmarkCompileSpec(b *testing.B) {
	for _, tc := range []struct {
		name, spec string
		ctx        func(testing.TB) *ProbeContext
	}{
		{"tracepoint", `t:syscalls:sys_enter_read (args->count > 20000) "read %d bytes", args->count`, tracepointCtx},
		{"kprobe-chain", `vfs_read (count > 0) "%s %d", file->f_path.dentry->d_name.name, count`, kprobeCtx},
	} {
		b.Run(tc.name, func(b *testing.B) {
			pc := tc.ctx(b)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p, err := specparse.ParseTrace(tc.spec)
				if err != nil {
					b.Fatal(err)
				}
				ct, err := CheckTrace(p, pc, CheckOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := CompileTrace(ct, TraceOptions{UID: -1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
