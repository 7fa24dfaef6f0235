#!/usr/bin/env bash
# deps.sh installs what btool's test tiers need and fetches the VM kernels.
#
# It is idempotent and a fast no-op when everything is present. It:
#   - installs qemu-system-x86, busybox-static, cpio, gcc, g++ and make with apt-get
#     (running `apt-get update` once, and only if something is missing);
#   - mounts tracefs on /sys/kernel/tracing (and debugfs) when missing;
#   - fetches the newest Debian linux-image-6.1.0-N-amd64 and
#     linux-image-6.12.N+deb12-amd64 (from the machine's own apt sources) and
#     Debian 11's linux-image-5.10.0-N-amd64 (from bullseye and
#     bullseye-security through a private apt setup in $BTOOL_CACHE/apt-bullseye,
#     so the machine's sources are left alone) with `apt-get download`, extracts
#     their vmlinuz into $BTOOL_KERNELS (default ~/.cache/btool/kernels) as
#     vmlinuz-<version>, and points the symlinks 5.10, 6.1 and 6.12 there at
#     them. internal/vmtest finds the kernels through those symlinks. The VMs
#     boot the bare vmlinuz: everything they need is built in, no modules.
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
# apt_opts are extra options for apt-get and apt-cache: empty for the machine's
# own sources, the private bullseye setup (use_bullseye) for 5.10.
apt_opts=()

# newest prints the candidate packages matching the regexp, newest first.
newest() {
	apt-cache "${apt_opts[@]}" search --names-only "$1" 2>/dev/null | awk '{print $1}' | grep -E "$1" | sort -rV
}

# Debian 11's kernels come from a private apt configuration: its own source
# list (bullseye and bullseye-security main, checked against the Debian
# archive keyring that every Debian has), package lists and cache under
# $cache/apt-bullseye. The machine's apt sources and state are not touched, and
# no root is needed. Its lists are refreshed when they are missing, a week old,
# or know no kernel.
bullseye=$cache/apt-bullseye
bullseye_keyring=/usr/share/keyrings/debian-archive-keyring.gpg
use_bullseye() {
	apt_opts=(
		-o "Dir::Etc::SourceList=$bullseye/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$bullseye/lists" -o "Dir::Cache=$bullseye/cache"
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
		${sandbox:+-o APT::Sandbox::User=root}
	)
	mkdir -p "$bullseye/lists/partial" "$bullseye/cache/archives/partial"
	cat >"$bullseye/sources.list" <<-EOF
		deb [signed-by=$bullseye_keyring] http://deb.debian.org/debian bullseye main
		deb [signed-by=$bullseye_keyring] http://deb.debian.org/debian-security bullseye-security main
	EOF
}
bullseye_update() {
	[ -s "$bullseye_keyring" ] || { missing+=("kernel 5.10: no $bullseye_keyring (apt-get install debian-archive-keyring)"); return 1; }
	say "apt-get update (private: Debian 11 bullseye, in $bullseye)"
	apt-get "${apt_opts[@]}" update -qq >&2
}

# fetch_kernel LABEL REGEXP [UPDATE]: make $kernels/LABEL point at the newest
# matching kernel. UPDATE is the command that refreshes the package lists when
# they know no match (default: the machine's apt-get update, as root).
fetch_kernel() {
	local label=$1 re=$2 update=${3:-} cands pkg ver vmlinuz
	cands=$(newest "$re")
	if [ -z "$cands" ]; then
		if [ -n "$update" ]; then
			$update && cands=$(newest "$re")
		elif ! $updated && $root; then
			apt_update
			cands=$(newest "$re")
		fi
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
			if ! (cd "$debs" && apt-get "${apt_opts[@]}" download -qq ${sandbox:+-o APT::Sandbox::User=root} "$pkg" >&2); then
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

use_bullseye
if [ -z "$(find "$bullseye/lists" -maxdepth 1 -name '*_Packages*' -mtime -7 2>/dev/null)" ]; then
	bullseye_update || say "kernel 5.10: apt-get update of the bullseye lists failed"
fi
fetch_kernel 5.10 '^linux-image-5\.10\.0-[0-9]+-amd64$' bullseye_update
apt_opts=()

if [ ${#missing[@]} -gt 0 ]; then
	say "missing:"
	for m in "${missing[@]}"; do say "  - $m"; done
	$root || die "run .ci/deps.sh as root to install them"
	die "could not provide everything above"
fi
exit 0
