#!/usr/bin/env bash
# vectord's test suite: formatting, vet, and every test under the race
# detector, with the tools the tests need installed first.
set -euo pipefail
cd "$(dirname "$0")/.."

# The patched Go toolchain (the module proxy serves it); set
# GOTOOLCHAIN=local to test with the machine's own Go instead.
export GOTOOLCHAIN="${GOTOOLCHAIN_TEST:-go1.26.10}"

scripts/deps.sh

# A real S3-compatible server (versitygw over a temp dir) for storage/s3;
# with CI set, its tests fail rather than skip when it is missing.
eval "$(scripts/s3server.sh start)"
trap 'scripts/s3server.sh stop' EXIT

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# Known vulnerabilities reachable from vectord, from the Go vulnerability
# database fetched through the module proxy (cached).
scripts/vulncheck.sh
# In CI, every fuzz target also runs for a short budget.
if [ -n "${CI:-}" ]; then
	scripts/fuzz.sh "${FUZZTIME:-5}"
fi
go test -race -count=1 "$@" ./...
