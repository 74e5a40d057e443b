#!/usr/bin/env bash
# Compares one backup of a production database through `source: export`
# and `source: backup` (a platform backup's .tar.gz, CONTRACT §9): the
# real vectord and vectorsim binaries on loopback, the same generated dump,
# wall time and peak RSS of `vectord backup` as /usr/bin/time reports them.
#
#   scripts/bench-sources.sh [DUMP_SIZE]     # default 1GiB
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1GiB}"
work=$(mktemp -d)
trap 'kill "${sim_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/vectord" ./cmd/vectord
go build -o "$work/vectorsim" ./cmd/vectorsim
"$work/vectorsim" -token bench-token -dump-size "$size" -sites 12345:67890 >"$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do
	base=$(grep -o 'http://[0-9.:]*/api/v1/vector' "$work/sim.out" | head -1 || true)
	[ -n "$base" ] && break
	sleep 0.1
done
[ -n "$base" ] || { echo "vectorsim did not start:" >&2; cat "$work/sim.out" >&2; exit 1; }
for source in export backup; do
	dir="$work/$source"
	mkdir -p "$dir"
	cat >"$dir/config.yaml" <<YAML
api:
  base_url: $base
  token: bench-token
  poll_interval: 100ms
  poll_max_interval: 1s
state_dir: $dir/state
storage:
  local:
    path: $dir/backups
sites:
  - name: acme
    id: "12345"
    environments:
      - name: production
        id: "67890"
        source: $source
YAML
	/usr/bin/time -f "$source: %e s wall, %U s user, %S s system, peak RSS %M KiB" \
		"$work/vectord" backup --config "$dir/config.yaml" --site acme --env production >/dev/null
done
