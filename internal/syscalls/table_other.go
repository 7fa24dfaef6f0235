//go:build !amd64

package syscalls

import "runtime"

// Only x86_64 has a generated table so far. On other architectures every
// lookup reports "not found"; adding one means generating table_<arch>.go
// from zsysnum_linux_<arch>.go and an aliases_<arch>.go.
var (
	names       = [...]string{}
	kernelNames = map[string]string{}
)

var wrapperPrefix = func() string {
	switch runtime.GOARCH {
	case "arm64":
		return "__arm64_sys_"
	case "s390x":
		return "__s390x_sys_"
	case "riscv64":
		return "__riscv_sys_"
	}
	return "sys_"
}()
