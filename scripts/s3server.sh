#!/usr/bin/env bash
# Runs a throwaway S3-compatible server (versitygw over a temporary
# directory) for the storage/s3 tests and benchmarks.
#
#   eval "$(scripts/s3server.sh start)"   # build if needed, start, export VECTORD_S3_*
#   scripts/s3server.sh stop              # stop the server named by $VECTORD_S3_PID
#   scripts/s3server.sh build             # only build the cached binary
#
# start prints shell `export` lines (VECTORD_S3_ENDPOINT, VECTORD_S3_REGION,
# VECTORD_S3_ACCESS_KEY, VECTORD_S3_SECRET_KEY, VECTORD_S3_BUCKET,
# VECTORD_S3_PID, VECTORD_S3_DIR) and nothing else on stdout. The server
# listens on a free loopback port with fresh random credentials and a
# bucket already created; it runs until stopped. The binary is built once
# into .cache/bin (about a minute on two cores with a warm module cache,
# three without) and reused.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$repo/.cache/bin/versitygw"
stamp="$repo/.cache/bin/versitygw.version"

log() { echo "s3server: $*" >&2; }

build() {
	if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
		return
	fi
	log "building versitygw $VERSITYGW_VERSION into .cache/bin (once)"
	mkdir -p "$repo/.cache/bin"
	# With an @version, go install builds the module on its own: vectord's
	# go.mod plays no part.
	GOBIN="$repo/.cache/bin" go install \
		"github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
	echo "$VERSITYGW_VERSION" >"$stamp"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# s3 METHOD PATH: a signed request without a body to the server; prints the
# HTTP status, 000 if there was no answer.
s3() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$1" \
		-H "x-amz-content-sha256: $empty_sha256" \
		--aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
		"$endpoint$2" || true
}
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

start() {
	build
	command -v curl >/dev/null || { log "curl is needed"; exit 1; }
	dir="$(mktemp -d "${TMPDIR:-/tmp}/vectord-s3.XXXXXX")"
	mkdir "$dir/data"
	access="vectord$(random_hex 6)"
	secret="$(random_hex 20)"
	region=us-east-1
	bucket=vectord-test

	local port pid=""
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 40000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			continue # taken
		fi
		endpoint="http://127.0.0.1:$port"
		# Own session and no inherited stdout, so that "$(s3server.sh start)"
		# returns while the server keeps running.
		ROOT_ACCESS_KEY_ID="$access" ROOT_SECRET_ACCESS_KEY="$secret" \
			setsid "$bin" --port "127.0.0.1:$port" --region "$region" --quiet \
			posix "$dir/data" </dev/null >"$dir/versitygw.log" 2>&1 &
		pid=$!
		# Wait until it answers (or dies, e.g. because the port was taken).
		for _ in $(seq 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				pid=""
				break
			fi
			case "$(s3 GET /)" in
			200) break 2 ;;
			000) ;;
			*)
				log "versitygw answers, but not as expected"
				break
				;;
			esac
			sleep 0.05
		done
		if [ -n "$pid" ]; then
			kill "$pid" 2>/dev/null || true
			pid=""
		fi
	done
	if [ -z "$pid" ]; then
		log "versitygw did not start; its log:"
		cat "$dir/versitygw.log" >&2 || true
		rm -rf "$dir"
		exit 1
	fi
	echo "$pid" >"$dir/pid"
	status="$(s3 PUT "/$bucket")"
	if [ "$status" != 200 ]; then
		log "create bucket $bucket: HTTP $status"
		kill "$pid" || true
		rm -rf "$dir"
		exit 1
	fi
	cat <<EOF
export VECTORD_S3_ENDPOINT=$endpoint
export VECTORD_S3_REGION=$region
export VECTORD_S3_ACCESS_KEY=$access
export VECTORD_S3_SECRET_KEY=$secret
export VECTORD_S3_BUCKET=$bucket
export VECTORD_S3_PID=$pid
export VECTORD_S3_DIR=$dir
EOF
	log "versitygw $VERSITYGW_VERSION serving $endpoint (pid $pid, data in $dir)"
}

stop() {
	local pid="${VECTORD_S3_PID:-}" dir="${VECTORD_S3_DIR:-}"
	if [ -z "$pid" ]; then
		log "VECTORD_S3_PID is not set; nothing to stop"
		return
	fi
	# Only the process this script started: its pid file must agree.
	if [ -n "$dir" ] && [ "$(cat "$dir/pid" 2>/dev/null)" != "$pid" ]; then
		log "pid $pid is not the server started in $dir; not stopping it"
		exit 1
	fi
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	case "$dir" in
	"${TMPDIR:-/tmp}"/vectord-s3.*) rm -rf "$dir" ;;
	esac
}

case "${1:-}" in
start) start ;;
stop) stop ;;
build) build ;;
*)
	echo "usage: $0 start|stop|build" >&2
	exit 2
	;;
esac
