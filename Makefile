# btool: build, lint and the three test tiers.
#
#   make             build ./btool (static, CGO_ENABLED=0)
#   make test        deps, then test-unit, test-root and test-vm (needs root)
#   make test-unit   tier (a): unprivileged unit tests (go test -short), no root needed
#   make test-root   tier (b): TestKernel* tests on the host kernel, as root
#   make test-vm     tier (c): TestKernel* tests inside QEMU on Debian 5.10, 6.1 and 6.12
#                    (internal/vmtest; BTOOL_VM_KERNELS=6.12 boots one kernel only)
#   make deps        install qemu/busybox/cpio/gcc and fetch the VM kernels (.ci/deps.sh)
#   make lint        gofmt -l (fails on any file), go vet and the import DAG (internal/lint)
#   make bench       benchmarks; BENCH=regexp, BENCH_ARGS='-count=5 -benchtime=2s'
#   make fuzz        every Fuzz target for FUZZTIME (default 10s) each
#
# Test reports go through .ci/gotest: pass/fail/skip counts per package and in
# total, failures with their output; the raw `go test -json` logs are kept in
# $(BTOOL_LOGDIR).

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
PKGS ?= ./...
FUZZTIME ?= 10s
BENCH ?= .
BENCH_ARGS ?=
VM_TIMEOUT ?= 60m
export BTOOL_LOGDIR ?= $(or $(TMPDIR),/tmp)/btool-test-logs
export FUZZTIME

GOTEST := .ci/gotest

.PHONY: all build deps test test-unit test-root test-vm lint bench fuzz need-root clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o btool ./cmd/btool

deps:
	.ci/deps.sh

# test runs every tier even when an earlier one fails, and fails if any did.
test: need-root
	@$(MAKE) --no-print-directory deps
	@rc=0; for tier in test-unit test-root test-vm; do \
		$(MAKE) --no-print-directory $$tier || rc=1; \
	done; \
	if [ $$rc = 0 ]; then echo "== make test: all tiers passed"; else echo "== make test: FAILED (see above)"; fi; \
	exit $$rc

test-unit:
	$(GOTEST) unit -short $(PKGS)

test-root: need-root
	$(GOTEST) root -count=1 -run '^TestKernel' $(PKGS)

test-vm: need-root
	BTOOL_REQUIRE_VM=1 $(GOTEST) vm -v -count=1 -timeout $(VM_TIMEOUT) -run '^TestVM$$' ./internal/vmtest/

need-root:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make test, test-root and test-vm need root: they load BPF programs." >&2; \
		echo "Run it with sudo, or run 'make test-unit' for the unprivileged tier." >&2; \
		exit 1; \
	fi

lint:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 ./internal/lint/

# bench runs the host benchmarks (btool against bpftrace where installed), then
# the kernel-function attach benchmark inside the 6.12 VM (kprobe_multi against
# per-function kprobes), whose results are the BENCH lines of its log.
bench: need-root
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime 10x $(BENCH_ARGS) $(PKGS)
	BTOOL_VM_KERNELS=6.12 BTOOL_VM_PKGS=./cmd/btool BTOOL_VM_RUN='^TestKernelBench' BTOOL_VM_APPEND='BTOOL_BENCH=1' \
		$(GO) test -count=1 -v -timeout 30m -run '^TestVM$$' ./internal/vmtest/ | grep -E 'BENCH|^(ok|FAIL|---)'

fuzz:
	.ci/fuzz.sh

clean:
	rm -f btool
