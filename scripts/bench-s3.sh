#!/usr/bin/env bash
# Compares the upload throughput of vectord's S3 target (storage/s3) with
# rclone's against the same S3 server: both upload the same file (1 GiB of
# random bytes, like a compressed dump, by default) RUNS times.
#
#   scripts/bench-s3.sh [SIZE_MIB]
#
# Uses the server named by $VECTORD_S3_* (see scripts/s3server.sh), or
# starts a throwaway versitygw for the run. Installs rclone (Debian's
# package) if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib="${1:-1024}"
runs="${RUNS:-3}"

if ! command -v rclone >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "installing rclone" >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends rclone >/dev/null
fi

started=""
tmp="$(mktemp -d "${TMPDIR:-/tmp}/vectord-bench.XXXXXX")"
trap 'rm -rf "$tmp"; [ -z "$started" ] || scripts/s3server.sh stop' EXIT
if [ -z "${VECTORD_S3_ENDPOINT:-}" ]; then
	eval "$(scripts/s3server.sh start)"
	started=1
fi

file="$tmp/object"
head -c "$((size_mib << 20))" /dev/urandom >"$file"
bytes=$(stat -c %s "$file")

echo "uploading $size_mib MiB $runs times to $VECTORD_S3_ENDPOINT" >&2

# vectord: the storage/s3 Target, as the exporter uses it.
out="$(VECTORD_S3_BENCH_FILE="$file" go test -run '^$' -bench '^BenchmarkUpload$' \
	-benchtime "${runs}x" ./storage/s3/)"
echo "$out" | grep '^BenchmarkUpload' >&2
vectord_mbs="$(echo "$out" | awk '/^BenchmarkUpload/ { for (i = 1; i <= NF; i++) if ($i == "MB/s") print $(i-1) }')"
peak="$(echo "$out" | awk '/^BenchmarkUpload/ { for (i = 1; i <= NF; i++) if ($i == "peak-heap-MiB") print $(i-1) }')"

# rclone's S3 backend: with its defaults (5 MiB chunks, 4 sent in
# parallel); without waiting for a "100 Continue" before each chunk (rclone
# waits up to 1 s for one, versitygw never sends it); and so with vectord's
# part size and parallelism (16 MiB, 2).
export RCLONE_CONFIG=/dev/null
export RCLONE_CONFIG_BENCH_TYPE=s3
export RCLONE_CONFIG_BENCH_PROVIDER=Other
export RCLONE_CONFIG_BENCH_ENDPOINT="$VECTORD_S3_ENDPOINT"
export RCLONE_CONFIG_BENCH_REGION="${VECTORD_S3_REGION:-us-east-1}"
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$VECTORD_S3_ACCESS_KEY"
export RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$VECTORD_S3_SECRET_KEY"
export RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
dest="bench:$VECTORD_S3_BUCKET/bench-rclone-$$"

# rclone_mbs ARGS...: MB/s of RUNS uploads to fresh names.
rclone_mbs() {
	local start end i
	start=$(date +%s.%N)
	for i in $(seq "$runs"); do
		# AWS_CA_BUNDLE, if set, makes rclone's AWS SDK refuse its transport.
		env -u AWS_CA_BUNDLE rclone copyto --s3-no-check-bucket "$@" "$file" "$dest/object-$i"
	done
	end=$(date +%s.%N)
	env -u AWS_CA_BUNDLE rclone purge "$dest" >/dev/null 2>&1 || true
	awk -v b="$bytes" -v n="$runs" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", b * n / (e - s) / 1e6 }'
}
rclone_default="$(rclone_mbs)"
rclone_nowait="$(rclone_mbs --expect-continue-timeout 0)"
rclone_matched="$(rclone_mbs --expect-continue-timeout 0 --s3-chunk-size 16M --s3-upload-concurrency 2)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "vectord storage/s3 (16 MiB parts, 2 buffers): $vectord_mbs MB/s, peak heap +$peak MiB"
echo "rclone, defaults (5 MiB chunks x 4):          $rclone_default MB/s (vectord/rclone $(ratio "$vectord_mbs" "$rclone_default"))"
echo "rclone, no 100-continue wait:                 $rclone_nowait MB/s (vectord/rclone $(ratio "$vectord_mbs" "$rclone_nowait"))"
echo "rclone, no wait, 16 MiB chunks x 2:           $rclone_matched MB/s (vectord/rclone $(ratio "$vectord_mbs" "$rclone_matched"))"
