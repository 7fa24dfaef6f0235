#!/usr/bin/env bash
# deps.sh installs what btool's test tiers need and fetches the VM kernels.
#
# It is idempotent and a fast no-op when everything is present. It:
#   - installs qemu-system-x86, busybox-static, cpio, gcc, g++ and make with apt-get
#     (running `apt-get update` once, and only if something is missing);
#   - mounts tracefs on /sys/kernel/tracing (and debugfs) when missing;
#   - fetches the newest Debian linux-image-6.1.0-N-amd64 and
#     linux-image-6.12.N+deb12-amd64 with `apt-get download`, extracts their
#     vmlinuz into $BTOOL_KERNELS (default ~/.cache/btool/kernels) as
#     vmlinuz-<version>, and points the symlinks 6.1 and 6.12 there at them.
#     internal/vmtest finds the kernels through those symlinks.
#
# Installing packages and mounting need root. Without root it only reports what
# is missing and exits non-zero. Kernel downloads need no root.
#
# Environment: BTOOL_KERNELS (kernel dir), BTOOL_CACHE (default ~/.cache/btool).
set -euo pipefail

cache=${BTOOL_CACHE:-${HOME:-/root}/.cache/btool}
kernels=${BTOOL_KERNELS:-$cache/kernels}
debs=$cache/debs

say() { printf 'deps: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

root=false
sandbox=
[ "$(id -u)" = 0 ] && root=true && sandbox=1

updated=false
apt_update() {
	$updated && return 0
	say "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	updated=true
}

missing=()

# --- packages ---------------------------------------------------------------------------------
# command -> Debian package providing it.
declare -A pkg_of=(
	[qemu-system-x86_64]=qemu-system-x86
	[cpio]=cpio
	[gcc]=gcc
	[g++]=g++
	[make]=make
)
want_pkgs=()
for cmd in "${!pkg_of[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || want_pkgs+=("${pkg_of[$cmd]}")
done
# The VM needs a STATIC busybox; Debian's busybox-static puts it at /bin/busybox.
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
	want_pkgs+=(busybox-static)
fi
if [ ${#want_pkgs[@]} -gt 0 ]; then
	if $root; then
		apt_update
		say "apt-get install ${want_pkgs[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want_pkgs[@]}" >&2
	else
		missing+=("packages: ${want_pkgs[*]} (apt-get install ${want_pkgs[*]})")
	fi
fi

# --- tracefs / debugfs ------------------------------------------------------------------------
if ! grep -q ' /sys/kernel/tracing tracefs ' /proc/mounts; then
	if $root; then
		say "mounting tracefs on /sys/kernel/tracing"
		mount -t tracefs nodev /sys/kernel/tracing || die "cannot mount tracefs on /sys/kernel/tracing"
	else
		missing+=("tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)")
	fi
fi
if $root && ! grep -q ' /sys/kernel/debug debugfs ' /proc/mounts; then
	mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || say "note: could not mount debugfs (optional)"
fi

# --- kernels ----------------------------------------------------------------------------------
# newest prints the candidate packages matching the regexp, newest first.
newest() {
	apt-cache search --names-only "$1" 2>/dev/null | awk '{print $1}' | grep -E "$1" | sort -rV
}

# fetch_kernel LABEL REGEXP: make $kernels/LABEL point at the newest matching kernel.
fetch_kernel() {
	local label=$1 re=$2 cands pkg ver vmlinuz
	cands=$(newest "$re")
	if [ -z "$cands" ] && ! $updated && $root; then
		apt_update
		cands=$(newest "$re")
	fi
	if [ -z "$cands" ]; then
		# No package index (a fresh machine without root): keep a kernel we already have.
		if [ -e "$kernels/$label" ]; then
			say "kernel $label: apt knows no $re; keeping $(readlink "$kernels/$label")"
			return 0
		fi
		missing+=("kernel $label: apt-cache finds no package matching $re (run apt-get update as root)")
		return 0
	fi
	for pkg in $cands; do
		ver=${pkg#linux-image-}
		vmlinuz=vmlinuz-$ver
		if [ ! -s "$kernels/$vmlinuz" ]; then
			say "kernel $label: downloading $pkg"
			mkdir -p "$debs" "$kernels"
			rm -f "$debs/${pkg}"_*.deb
			if ! (cd "$debs" && apt-get download -qq ${sandbox:+-o APT::Sandbox::User=root} "$pkg" >&2); then
				say "kernel $label: apt-get download $pkg failed; trying an older one"
				continue
			fi
			local tmp
			tmp=$(mktemp -d)
			dpkg-deb -x "$debs/${pkg}"_*.deb "$tmp"
			[ -s "$tmp/boot/$vmlinuz" ] || { rm -rf "$tmp"; die "$pkg has no boot/$vmlinuz"; }
			mv "$tmp/boot/$vmlinuz" "$kernels/$vmlinuz.part"
			mv "$kernels/$vmlinuz.part" "$kernels/$vmlinuz"
			rm -rf "$tmp"
		fi
		if [ "$(readlink "$kernels/$label" 2>/dev/null)" != "$vmlinuz" ]; then
			ln -sfn "$vmlinuz" "$kernels/$label"
			say "kernel $label -> $vmlinuz"
		fi
		return 0
	done
	missing+=("kernel $label: could not download any of: $cands")
}

fetch_kernel 6.1 '^linux-image-6\.1\.0-[0-9]+-amd64$'
fetch_kernel 6.12 '^linux-image-6\.12\.[0-9]+\+deb12-amd64$'

if [ ${#missing[@]} -gt 0 ]; then
	say "missing:"
	for m in "${missing[@]}"; do say "  - $m"; done
	$root || die "run .ci/deps.sh as root to install them"
	die "could not provide everything above"
fi
exit 0
