#!/usr/bin/env bash
# Scale check: a daemon configured with N environments (default 1,000)
# against the simulator: start-up time to /readyz, idle RSS and CPU over a
# sampling window.
#
#   scripts/scale.sh [N] [IDLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
idle=${2:-20}
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

go build -trimpath -o "$work/vectord" ./cmd/vectord
go build -trimpath -o "$work/vectorsim" ./cmd/vectorsim
ids=$(seq -s, 1 "$n")
"$work/vectorsim" --listen 127.0.0.1:0 --token scale-token --sites "$ids" >"$work/sim.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/sim.out" 2>/dev/null && break; sleep 0.05; done
base=$(sed -n 's/^listening on //p' "$work/sim.out" | head -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	cat <<YAML
api:
  base_url: $base/api/v1/vector
  token: scale-token
state_dir: $work/state
storage:
  local:
    path: $work/backups
server:
  listen: 127.0.0.1:$port
defaults:
  schedule: "0 2 * * *"
  jitter: 30m
sites:
YAML
	for i in $(seq 1 "$n"); do printf '  - {name: site%d, id: "%d"}\n' "$i" "$i"; done
} >"$work/config.yaml"

start=$(date +%s.%N)
"$work/vectord" run --config "$work/config.yaml" 2>"$work/daemon.log" &
pid=$!
pids+=("$pid")
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.01; done
ready=$(date +%s.%N)
# Every environment starts without a backup, so catch-up queues all of them;
# the budget admits 2 at once and then one every 6m6s.
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
t0=$(ticks)
sleep "$idle"
t1=$(ticks)
rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
hz=$(getconf CLK_TCK)
queued=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^vectord_jobs_queued /{print $2}')
python3 - "$n" "$start" "$ready" "$rss" "$t0" "$t1" "$hz" "$idle" "$queued" <<'PY'
import sys
n,start,ready,rss,t0,t1,hz,idle,queued=sys.argv[1:]
print(f"environments: {n}")
print(f"start-up to /readyz: {float(ready)-float(start):.3f} s")
print(f"RSS after {idle}s: {int(rss)/1024:.1f} MiB")
print(f"CPU over {idle}s: {(int(t1)-int(t0))/int(hz):.2f} s ({(int(t1)-int(t0))/int(hz)/float(idle)*100:.1f}%)")
print(f"jobs queued for budget: {queued}")
PY
