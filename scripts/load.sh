#!/usr/bin/env bash
# Load check: the real daemon with a fleet of environments on short
# schedules against the simulated API, for minutes (e2e/load_test.go).
#
#   scripts/load.sh [fleet|tight|all]
#
# fleet: 1,000 environments, @every 2m, 5 minutes, budgets 100,000 database
#   operations an hour and 6,000 requests a minute on both sides: every
#   environment backed up, no 429, runs spread by jitter, no goroutine or
#   memory growth between the first and the last minute after a 2-minute
#   warm-up.
# tight: the same fleet due at once, 3 minutes, budgets 600 an hour and 300
#   a minute on both sides: exports admitted at the budget's pace, no 429.
#
# The daemon is built without the race detector, so its memory and CPU
# figures are the production binary's. Each run prints its series (one
# sample every 10 s: RSS, heap, goroutines, queue, backups, CPU, API
# requests) and a summary. The environment tunes it: VECTORD_LOAD_ENVS,
# VECTORD_LOAD_SCHEDULE, VECTORD_LOAD_DURATION, VECTORD_LOAD_WARMUP,
# VECTORD_LOAD_TIGHT_DURATION, VECTORD_LOAD_SAMPLE, VECTORD_LOAD_DUMP_SIZE.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}"

case "${1:-all}" in
fleet) run='^TestLoadFleet$' ;;
tight) run='^TestLoadTightBudget$' ;;
all) run='^TestLoad(Fleet|TightBudget)$' ;;
*)
	echo "usage: scripts/load.sh [fleet|tight|all]" >&2
	exit 2
	;;
esac

echo "load: $(nproc) CPUs, $(go version), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
log=$(mktemp -t vectord-load.XXXXXX)
status=0
# The daemon logs one JSON line per step (printed only when a test fails);
# the full output stays in $log.
VECTORD_LOAD=1 go test -count=1 -v -timeout 30m -run "$run" ./e2e/ 2>&1 |
	tee "$log" | grep --line-buffered -v '^ *{"time":' || status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
	echo "load: failed; the full output, with the daemon's log, is in $log" >&2
	exit "$status"
fi
rm -f "$log"
