#!/usr/bin/env bash
# Download benchmark: `vectord backup` (download + gunzip sniff + SHA-256 +
# zstd + fsync) against `curl -o` and `curl | zstd -1` fetching the same
# export from the same local simulated API, with wall time and peak RSS.
#
#   scripts/bench-download.sh [SIZE_BYTES] [RUNS]    default 1 GiB, 3 runs
#
# Prints a Markdown table; the median of RUNS runs is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1073741824}
runs=${2:-3}
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}"

for tool in curl zstd /usr/bin/time python3; do
	command -v "$tool" >/dev/null || { echo "bench-download: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -trimpath -o "$work/vectord" ./cmd/vectord
go build -trimpath -o "$work/vectorsim" ./cmd/vectorsim

token=bench-token
"$work/vectorsim" --listen 127.0.0.1:0 --token "$token" --dump-size "$size" --sites 1001 >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/sim.out" 2>/dev/null && break; sleep 0.05; done
base=$(sed -n 's/^listening on //p' "$work/sim.out" | head -1)
[ -n "$base" ] || { echo "simulator did not start" >&2; cat "$work/sim.err" >&2; exit 1; }
api="$base/api/v1/vector"

# fresh_url requests an export and polls it until it has a download URL.
fresh_url() {
	local id url
	id=$(curl -sf -X POST -H "Authorization: Bearer $token" -H 'Accept: application/json' \
		"$api/sites/1001/database/export" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["export_id"])')
	for _ in $(seq 20); do
		url=$(curl -sf -H "Authorization: Bearer $token" -H 'Accept: application/json' \
			"$api/sites/1001/database/export/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"].get("download_url") or "")')
		[ -n "$url" ] && { echo "$url"; return; }
		sleep 0.1
	done
	echo "export $id never completed" >&2
	return 1
}

cat >"$work/config.yaml" <<YAML
api:
  base_url: $api
  token: $token
  poll_interval: 20ms
  poll_max_interval: 40ms
  requests_per_minute: 6000   # the benchmark measures the download, not the API budget
state_dir: $work/state
storage:
  compression: zstd
  local:
    path: $work/backups
sites:
  - name: bench
    id: "1001"
YAML

# measure NAME CMD... : runs CMD, appends "seconds maxrss_kib" to $work/NAME
measure() {
	local name=$1; shift
	/usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null
	cat "$work/time.out" >>"$work/t.$name"
}

for i in $(seq "$runs"); do
	url=$(fresh_url)
	measure curl curl -sf -o "$work/curl.sql" "$url"
	sync; rm -f "$work/curl.sql"
	url=$(fresh_url)
	measure curlzstd bash -c 'curl -sf "$1" | zstd -1 -q -f -o "$2"' _ "$url" "$work/curl.sql.zst"
	sync; rm -f "$work/curl.sql.zst"
	measure vectord "$work/vectord" backup --config "$work/config.yaml" --site bench
	rm -rf "$work/backups" "$work/state"
done

median() { sort -n -k1 "$work/t.$1" | awk -v n="$runs" 'NR==int((n+1)/2){print}'; }
read -r t_curl m_curl <<<"$(median curl)"
read -r t_cz m_cz <<<"$(median curlzstd)"
read -r t_v m_v <<<"$(median vectord)"
python3 - "$size" "$t_curl" "$m_curl" "$t_cz" "$m_cz" "$t_v" "$m_v" "$runs" <<'PY'
import sys
size=int(sys.argv[1]); tc,mc,tz,mz,tv,mv=map(float,sys.argv[2:8]); runs=sys.argv[8]
mib=size/2**20
print(f"dump {mib:.0f} MiB, median of {runs} runs")
print()
print("| pipeline | wall s | MiB/s | peak RSS MiB | vectord throughput ratio |")
print("|---|---|---|---|---|")
for name,t,m in (("curl -o file",tc,mc),("curl \\| zstd -1 > file",tz,mz),("vectord backup (sha256 + zstd + fsync)",tv,mv)):
    print(f"| {name} | {t:.2f} | {mib/t:.0f} | {m/1024:.1f} | {t/tv:.2f} |")
PY
