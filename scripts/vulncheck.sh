#!/usr/bin/env bash
# Checks vectord and its dependencies for known vulnerabilities that its
# code can reach, with govulncheck over a local copy of the Go
# vulnerability database: nothing is fetched from vuln.go.dev.
#
#   scripts/vulncheck.sh [PACKAGES]      # default ./...
#
# The database comes through the Go module proxy as the module
# golang.org/x/vulndb (its data/osv holds every report); its cmd/indexdb
# turns that into the directory layout govulncheck reads. The result is
# cached under ${XDG_CACHE_HOME:-$HOME/.cache}/vectord/vulndb/<version>, so
# only a new vulndb version is indexed again (older ones are removed).
# VULNDB_VERSION pins a version instead of @latest; when the proxy cannot be
# reached the newest cached database is used, with a warning.
#
# It checks with the patched Go toolchain unless GOTOOLCHAIN says
# otherwise (GOTOOLCHAIN=local: the machine's own Go; the standard
# library's vulnerabilities depend on it). Exit status: 0 nothing
# reachable, 3 a reachable vulnerability (govulncheck's status), 1 the
# check could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}"

repo="$(pwd)"
bin="$repo/.cache/bin/govulncheck"
stamp="$repo/.cache/bin/govulncheck.version"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/vectord/vulndb"

log() { echo "vulncheck: $*" >&2; }
die() {
	log "$*"
	exit 1
}

if ! [ -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$GOVULNCHECK_VERSION" ]; then
	log "installing govulncheck $GOVULNCHECK_VERSION into .cache/bin (once)"
	mkdir -p "$repo/.cache/bin"
	# With an @version, go install builds the module on its own: vectord's
	# go.mod plays no part.
	GOBIN="$repo/.cache/bin" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" >&2
	echo "$GOVULNCHECK_VERSION" >"$stamp"
fi

# Outside vectord's module, so that go.mod and go.sum stay untouched.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/vectord-vulncheck.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# field NAME: the value of "NAME": "..." in go mod download -json output.
field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p" | head -n1; }

query="${VULNDB_VERSION:-latest}"
version="" src="" info=""
if [ -n "${VULNDB_VERSION:-}" ] && [ -f "$cache/$VULNDB_VERSION/index/db.json" ]; then
	version="$VULNDB_VERSION" # pinned and indexed before: nothing to fetch
elif info="$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$query")"; then
	version="$(field Version <<<"$info")"
	src="$(field Dir <<<"$info")"
fi
if [ -z "$version" ]; then
	log "$(field Error <<<"$info")"
	[ -n "${VULNDB_VERSION:-}" ] && die "cannot fetch golang.org/x/vulndb@$VULNDB_VERSION"
	# Offline: the newest complete database indexed before (globs sort,
	# and pseudo-versions sort by date).
	for index in "$cache"/v*/index/db.json; do
		case "$index" in
		*.tmp.*) ;;
		*) [ -f "$index" ] && version="$(basename "$(dirname "$(dirname "$index")")")" ;;
		esac
	done
	[ -n "$version" ] || die "cannot fetch golang.org/x/vulndb and no database is cached in $cache"
	log "cannot fetch golang.org/x/vulndb@latest; using the cached database $version"
fi

db="$cache/$version"
if ! [ -f "$db/index/db.json" ]; then
	[ -d "$src/data/osv" ] || die "golang.org/x/vulndb@$version has no data/osv in $src"
	log "indexing golang.org/x/vulndb@$version into $db (once per version)"
	mkdir -p "$cache"
	# Built aside and renamed, so that a concurrent or interrupted run
	# never sees half a database.
	part="$(mktemp -d "$cache/$version.tmp.XXXXXX")"
	trap 'rm -rf "$tmp" "$part"' EXIT
	(cd "$tmp" && go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$part/db") >&2
	[ -f "$part/db/index/db.json" ] || die "indexdb wrote no index/db.json"
	mv -T "$part/db" "$db" 2>/dev/null || [ -f "$db/index/db.json" ] || die "cannot move the database to $db"
	# One database is enough: drop the ones of older versions.
	for old in "$cache"/v*; do
		case "$old" in
		"$db" | *.tmp.*) ;;
		*) rm -rf "$old" ;;
		esac
	done
fi

log "govulncheck $GOVULNCHECK_VERSION, $(go env GOVERSION), database golang.org/x/vulndb@$version"
status=0
"$bin" -db "file://$db" "${@:-./...}" || status=$?
case "$status" in
0) ;;
3) log "reachable vulnerabilities found (see above)" ;;
*) log "govulncheck failed (status $status)" ;;
esac
exit "$status"
