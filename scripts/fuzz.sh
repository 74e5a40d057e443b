#!/usr/bin/env bash
# Runs every fuzz target in the module for a while, one after another (go
# test fuzzes one target per invocation), and stops at the first crash.
#
#   scripts/fuzz.sh [SECONDS]     # each target for SECONDS (default 5)
#
# Targets are found with `go test -list '^Fuzz'` over the packages whose
# test files declare a `func Fuzz…`, so a new target is fuzzed without
# editing this script. On a crash, go test writes the failing input under
# the package's testdata/fuzz/<Target>/; the script prints that path and
# the command that replays it, and exits 1. A target that fails only with
# "context deadline exceeded" and writes no input hit a race in Go's own
# fuzzing coordinator at the end of -fuzztime (golang/go#75804, fixed in Go
# 1.27): it is reported and counted, not treated as a crash. The seed
# corpora also run in the normal `go test ./...`; this adds generated inputs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-5}"
case "$seconds" in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

log() { echo "fuzz: $*" >&2; }

# Packages (import path and directory) with a fuzz target in their tests.
pkgs=()
declare -A dirs=()
while read -r path dir; do
	if grep -qs '^func Fuzz' "$dir"/*_test.go; then
		pkgs+=("$path")
		dirs[$path]="$dir"
	fi
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
if [ ${#pkgs[@]} -eq 0 ]; then
	log "no fuzz targets found"
	exit 1
fi

# `go test -list` prints a package's matching names, then its "ok" line.
targets=()
names=()
while read -r first second _; do
	case "$first" in
	Fuzz*) names+=("$first") ;;
	ok)
		for n in ${names[@]+"${names[@]}"}; do
			targets+=("$second $n")
		done
		names=()
		;;
	esac
done < <(go test -list '^Fuzz' "${pkgs[@]}")
if [ ${#targets[@]} -eq 0 ]; then
	log "go test -list found no fuzz targets"
	exit 1
fi
log "${#targets[@]} targets, ${seconds}s each"

out="$(mktemp "${TMPDIR:-/tmp}/vectord-fuzz.XXXXXX")"
trap 'rm -f "$out"' EXIT
start=$SECONDS
flaked=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	log "$pkg $name"
	if ! go test -run '^$' -fuzz "^$name\$" -fuzztime "${seconds}s" "$pkg" >"$out" 2>&1; then
		if grep -q '^--- FAIL: '"$name"' (' "$out" && grep -qx '[[:space:]]*context deadline exceeded' "$out" &&
			! grep -q 'Failing input written to' "$out"; then
			# Go's fuzzing coordinator sometimes reports its own -fuzztime
			# deadline as a failure, with no input (golang/go#75804, fixed
			# in Go 1.27): not a finding.
			log "$pkg $name: the -fuzztime deadline was reported as a failure without an input (golang/go#75804); not a crash"
			flaked=$((flaked + 1))
			continue
		fi
		cat "$out" >&2
		input="$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$out" | head -n1)"
		if [ -n "$input" ]; then
			log "$pkg $name failed; the failing input is ${dirs[$pkg]}/$input"
			log "replay it with: go test -run '^$name/$(basename "$input")\$' $pkg"
		else
			log "$pkg $name failed without writing an input (build error or a failing seed)"
		fi
		exit 1
	fi
	grep -h 'elapsed:.*execs:' "$out" | tail -n1 | sed 's/^/    /' >&2 || true
done
log "all ${#targets[@]} targets passed in $((SECONDS - start))s ($flaked stopped by golang/go#75804)"
