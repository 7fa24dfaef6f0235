// Package vmtest is btool's third test tier: it runs the TestKernel tests of
// every package inside QEMU on the Debian kernels btool supports, so that
// features the host lacks (kprobes, kprobe_multi, fentry) and older kernels
// (6.1: no kprobe_multi, no uprobe_multi; 5.10: no BPF cookie either, so
// per-target programs) are tested too.
//
// # What TestVM does
//
//  1. Finds the kernels: $BTOOL_KERNELS (default ~/.cache/btool/kernels)
//     holds 5.10, 6.1 and 6.12, symlinks (or files naming an image) that
//     .ci/deps.sh points at the newest Debian 11 linux-image-5.10.0-N-amd64
//     (from bullseye and bullseye-security) and Debian 12
//     linux-image-6.1.0-N-amd64 and linux-image-6.12.N+deb12-amd64. Only the
//     vmlinuz is used: the Debian kernels have everything the tests need
//     built in, no modules. Missing kernels, qemu or static busybox
//     skip the test with a hint to run .ci/deps.sh, or fail it when
//     BTOOL_REQUIRE_VM=1 (make test-vm sets that).
//  2. Builds on the host, once for all kernels, with CGO_ENABLED=0: btool
//     (./cmd/btool, when it exists), every program in internal/workloads, and
//     `go test -c` of every package whose _test.go files declare a
//     func TestKernel... (KernelTestPackages). A package that does not build
//     fails TestVM but the others still run.
//  3. Writes an uncompressed newc initramfs in Go (CPIOWriter, no root or cpio
//     tool needed): static busybox, /init (InitScript), /bin/btool,
//     /workloads/<name>, /tests/<pkg>.test, and every testdata/ directory
//     of the module at /src/<its path> (BTOOL_ROOT=/src in the VM).
//  4. Boots each kernel with qemu-system-x86_64 -accel tcg,thread=single
//     -cpu max (software emulation; never KVM: it hangs on the CI machines;
//     single-threaded because multi-threaded TCG crashed guests that patch
//     kernel text, see accel) with 1 GB, 1 CPU (two raced the kernel's
//     live text patching, see BootKernel), oops=panic (an oops ends
//     the VM at once instead of at the timeout) and tsc=reliable (see
//     BootKernel: without it 6.1 may use the HPET clocksource, making every
//     clock read a syscall and the guest crawl). The per-kernel settings
//     ride on the kernel command line, which hands unknown name=value
//     parameters to init as environment: BTOOL_VM=<label> and
//     BTOOL_EXPECT_FEATURES=<ExpectedFeatures[label]>.
//     /init mounts proc, sysfs, devtmpfs, tmpfs on /tmp, tracefs, debugfs and
//     bpffs, sets PATH, BTOOL_WORKLOADS=/workloads, BTOOL_ROOT=/src and
//     BTOOL_BIN=/bin/btool, then runs each test binary from /src/<pkg> with
//     -test.v=test2json -test.run '^TestKernel' -test.timeout 10m. Test output
//     goes to the second serial port (ttyS1, results-<label>.log on the host)
//     between "@@BTOOL BEGIN <pkg>" and "@@BTOOL END <pkg> rc=<n>" lines; the
//     console (ttyS0, console-<label>.log) keeps the kernel's messages.
//  5. Reports every test from the VM as a subtest
//     TestVM/<label>/<pkg>/<TestName>[/<subtest>...], with its verdict
//     (pass, fail, skip with its reason) and its output, parsed by
//     `go tool test2json`. A binary that exits non-zero without a failed test
//     fails with its raw output; a VM that dies or times out fails with the
//     tail of its console.
//
// The kernels boot in parallel as t.Parallel subtests (BTOOL_VM_PARALLEL=0
// boots them in turn), at most go test's -parallel (GOMAXPROCS, 2 on CI) at
// a time: with single-threaded TCG each VM keeps one of the 2 host cores
// busy, so with three kernels 5.10 and 6.12 run side by side and 6.1 starts
// when the first of them ends.
// Measured on the 2-core CI machine: boot to /init takes about 3 s; with
// only the smoke test a VM ran 6.4 s (6.1) and 4.3 s (6.12) one at a time,
// 8.6 s and 7.4 s side by side; with all 8 test packages of the day (bpf and
// cmd/btool end to end included) 75 s (6.1) and 84 s (6.12) side by side,
// 90 s for make test-vm with the build. Attaching fentry is the slowest thing
// in the guest (about 1 s per attach). With 5.10 added and 10 test packages,
// on a loaded CI machine (load average 5 to 9 from other work): 5.10 alone
// 93 to 143 s of qemu; all three 139 s (5.10) and 168 s (6.12) side by side,
// then 123 s (6.1), 277 s for TestVM with the build: 5.10 adds about 2
// minutes.
//
// # Running it
//
//	make test-vm                                    # every kernel, as CI does
//	go test -v -run '^TestVM$' ./internal/vmtest    # the same without BTOOL_REQUIRE_VM
//	BTOOL_VM_KERNELS=6.12 go test -v -run '^TestVM$' ./internal/vmtest       # one kernel
//	go test -v -run '^TestVM$/^6.12$' ./internal/vmtest                      # one kernel, also
//	BTOOL_VM_PKGS=./bpf go test -v -run '^TestVM$' ./internal/vmtest         # one package
//	BTOOL_VM_RUN='^TestKernelCount' go test -v -run '^TestVM$' ./internal/vmtest  # some tests
//
// Environment knobs:
//
//	BTOOL_KERNELS          kernel directory (default ~/.cache/btool/kernels)
//	BTOOL_VM_KERNELS       comma-separated labels to boot (default 5.10,6.1,6.12)
//	BTOOL_VM_PKGS          comma-separated go list patterns to search for TestKernel tests (default ./...)
//	BTOOL_VM_RUN           -test.run regexp inside the VM (default ^TestKernel)
//	BTOOL_VM_TEST_TIMEOUT  -test.timeout of each test binary (default 10m)
//	BTOOL_VM_TIMEOUT       wall-clock limit of each VM; qemu is killed after it (default 20m)
//	BTOOL_VM_PARALLEL      0 boots the kernels one after the other
//	BTOOL_VM_MEM           guest memory in MB (default 1024)
//	BTOOL_VM_ACCEL         qemu -accel value (default tcg,thread=single)
//	BTOOL_VM_APPEND        extra kernel command line parameters
//	BTOOL_VM_CONSOLE=1     copy the VM consoles to stderr as they boot
//	BTOOL_VM_KEEP=1        keep the work directory (initramfs.cpio, binaries,
//	                       console-<label>.log, results-<label>.log) and log
//	                       it with the qemu command line, to boot by hand
//	BTOOL_BUSYBOX          the static busybox (default /bin/busybox)
//	BTOOL_REQUIRE_VM=1     missing kernels or tools fail instead of skipping
//
// # Debugging a VM by hand
//
// Run with BTOOL_VM_KEEP=1, then run the logged qemu command from a terminal:
// its console is on stdio. Add "rdinit=/bin/sh" to the -append string for a
// busybox shell instead of /init (run "/bin/busybox --install -s /bin" first).
//
// # Writing tests for the VMs
//
// Name them TestKernel..., call testutil.RequireRoot, gate features with
// testutil.RequireFeature (which fails rather than skips when the kernel is
// expected to have the feature), take programs from testutil.Workload and
// testutil.BtoolBin, and find files relative to the package directory
// (testdata/ is copied) or testutil.RepoRoot(). There is no compiler, no
// network and no shell beyond busybox in the VM.
package vmtest
