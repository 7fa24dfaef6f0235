package btf

import (
	"errors"

	"github.com/cilium/ebpf"
)

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrNotSupported means the kernel has no BTF (CONFIG_DEBUG_INFO_BTF is
	// off). It is ebpf.ErrNotSupported, so feature checks treat it alike.
	ErrNotSupported = ebpf.ErrNotSupported
	// ErrNotFound means the requested function or type is not in BTF.
	ErrNotFound = errors.New("not found")
	// ErrMultipleMatches means a name denotes several different functions
	// or types.
	ErrMultipleMatches = errors.New("multiple matches")
)
