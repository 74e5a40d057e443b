#!/usr/bin/env bash
# Installs vectord as a systemd service (run by `make install`):
#
#   $PREFIX/bin/vectord                      the binary ($BINARY, default bin/vectord)
#   /etc/systemd/system/vectord.service      the unit, ExecStart under $PREFIX
#   /etc/sysusers.d/vectord.conf             the vectord system user
#   /etc/vectord/config.yaml                 the starter configuration, only if absent (0600):
#                                            config.example.yaml, the API token read from the
#                                            credential the unit loads (/etc/vectord/api-token)
#   /var/lib/vectord                         the state directory (0700), so the command line can
#                                            run as vectord before the service first starts
#   $PREFIX/share/doc/vectord/config.example.yaml   every key, documented
#
# PREFIX defaults to /usr/local. DESTDIR, if set, is a staging root (for a
# package): everything goes under it, and no user is created and nothing
# chowned, since the target system's users are not this one's. Without
# DESTDIR it must run as root; it creates the vectord user if missing and
# gives it /etc/vectord and /var/lib/vectord. An existing configuration is
# never overwritten, so running it again upgrades the binary and the unit in
# place. It builds nothing: run make build first, as yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "install: $*" >&2
	exit 1
}

PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
BINARY="${BINARY:-bin/vectord}"
user=vectord

case "$PREFIX" in
/*) ;;
*) die "PREFIX must be an absolute path, got \"$PREFIX\"" ;;
esac
case "$PREFIX" in
*[[:space:]\|\\]*) die "PREFIX must not contain spaces, | or \\, got \"$PREFIX\"" ;;
esac
if ! [ -f "$BINARY" ] || ! [ -x "$BINARY" ]; then
	die "no executable at $BINARY: run make build first, or set BINARY"
fi
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
	die "installing into / needs root: run sudo make install (or set DESTDIR)"
fi

bindir="$PREFIX/bin"
docdir="$PREFIX/share/doc/vectord"
unitdir=/etc/systemd/system
sysusersdir=/etc/sysusers.d
confdir=/etc/vectord
statedir=/var/lib/vectord
unit="$unitdir/vectord.service"
config="$confdir/config.yaml"

upgrade=false
[ -e "$DESTDIR$unit" ] && upgrade=true

tmp=$(mktemp)
starter=$(mktemp)
trap 'rm -f "$tmp" "$starter"' EXIT
sed "s|^ExecStart=/usr/local/bin/vectord |ExecStart=$bindir/vectord |" systemd/vectord.service >"$tmp"
grep -q "^ExecStart=$bindir/vectord run " "$tmp" || die "systemd/vectord.service has no ExecStart=/usr/local/bin/vectord line to point at $bindir"

# The starter configuration is the documented example, config.example.yaml
# (the README's quick start edits it), with its API token taken from the
# credential systemd hands the service (LoadCredential=api-token:...) and,
# outside the service, from /etc/vectord/api-token itself: token_file
# replaces the example's "token: ${VECTOR_API_TOKEN}" and its commented
# token_file line, so that an exported VECTOR_API_TOKEN never makes both set.
{
	cat <<HEAD
# $config, installed by \`make install\` from the documented example,
# $docdir/config.example.yaml. After editing:
# \`sudo -u $user vectord config check\`, then \`sudo systemctl reload vectord\`
# (an invalid file is refused and the running configuration kept).
#
HEAD
	awk '
		/^  token: \$\{VECTOR_API_TOKEN\}/ {
			print "  # As a service, systemd hands vectord a private copy of"
			print "  # /etc/vectord/api-token in $CREDENTIALS_DIRECTORY (LoadCredential=);"
			print "  # the command line, run outside it, reads the file itself."
			print "  token_file: ${CREDENTIALS_DIRECTORY:-/etc/vectord}/api-token"
			found = 1
			skip = 1
			next
		}
		skip && /^  # token_file:/ { skip = 0; next }
		{ skip = 0; print }
		END { exit !found }
	' config.example.yaml
} >"$starter" || die "config.example.yaml has no \"  token: \${VECTOR_API_TOKEN}\" line to replace with the service's token_file"

install -d -m 0755 "$DESTDIR$bindir" "$DESTDIR$docdir" "$DESTDIR$unitdir" "$DESTDIR$sysusersdir"
install -m 0755 "$BINARY" "$DESTDIR$bindir/vectord"
install -m 0644 "$tmp" "$DESTDIR$unit"
install -m 0644 systemd/vectord.sysusers "$DESTDIR$sysusersdir/vectord.conf"
install -m 0644 config.example.yaml "$DESTDIR$docdir/config.example.yaml"

if [ -z "$DESTDIR" ] && ! getent passwd "$user" >/dev/null; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers "$sysusersdir/vectord.conf"
	else
		useradd --system --user-group --home-dir /var/lib/vectord --no-create-home \
			--shell "$(command -v nologin || echo /usr/sbin/nologin)" \
			--comment "vectord backup daemon" "$user"
	fi
	echo "created system user $user"
fi

install -d -m 0700 "$DESTDIR$confdir" "$DESTDIR$statedir"
[ -n "$DESTDIR" ] || chown "$user:$user" "$confdir" "$statedir"
if [ -e "$DESTDIR$config" ]; then
	echo "kept the existing $config"
else
	install -m 0600 "$starter" "$DESTDIR$config"
	[ -n "$DESTDIR" ] || chown "$user:$user" "$config"
	echo "installed a starter configuration as $config"
fi

echo "installed $bindir/vectord and $unit${DESTDIR:+ under $DESTDIR}"
if [ -n "$DESTDIR" ]; then
	echo "on the target system, create the $user user (systemd-sysusers) and chown $confdir and $statedir to it"
fi
if $upgrade; then
	cat <<MSG

Upgrade: restart the daemon on the new binary and unit:
  systemctl daemon-reload && systemctl restart vectord
MSG
else
	cat <<MSG

Next steps:
  1. Put the Vector API token in $confdir/api-token:
       (umask 077; cat > $confdir/api-token) && chown $user:$user $confdir/api-token
  2. Replace the example sites in $config with yours, then check it:
       sudo -u $user $bindir/vectord config check
  3. Start vectord now and at every boot:
       systemctl daemon-reload && systemctl enable --now vectord
  4. Follow it:
       journalctl -u vectord -f
MSG
fi
