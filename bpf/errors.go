package bpf

import (
	"github.com/cilium/ebpf"
)

// ErrNotSupported is returned (wrapped) when the running kernel lacks a
// feature or attach mechanism. It is cilium/ebpf's sentinel, so errors from
// that library and from this package match the same errors.Is test.
var ErrNotSupported = ebpf.ErrNotSupported
