#!/usr/bin/env bash
# fuzz.sh: runs every fuzz target of the module (packages whose _test.go
# files declare func Fuzz...) for $FUZZTIME each (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
n=0
while read -r pkg dir files; do
	[ -n "$files" ] || continue
	found=false
	for f in $files; do
		grep -q '^func Fuzz' "$dir/$f" && found=true && break
	done
	$found || continue
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		echo "== fuzz $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
		n=$((n + 1))
	done
done < <(go list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./...)
echo "== fuzz: ran $n target(s) for $fuzztime each"
