#!/usr/bin/env bash
# Installs vectord as a systemd service (run by `make install`):
#
#   $PREFIX/bin/vectord                      the binary ($BINARY, default bin/vectord)
#   /etc/systemd/system/vectord.service      the unit, ExecStart under $PREFIX
#   /etc/sysusers.d/vectord.conf             the vectord system user
#   /etc/vectord/config.yaml                 a starter configuration, only if absent (0600)
#   $PREFIX/share/doc/vectord/config.example.yaml   every key, documented
#
# PREFIX defaults to /usr/local. DESTDIR, if set, is a staging root (for a
# package): everything goes under it, and no user is created and nothing
# chowned, since the target system's users are not this one's. Without
# DESTDIR it must run as root; it creates the vectord user if missing and
# gives it /etc/vectord. An existing configuration is never overwritten, so
# running it again upgrades the binary and the unit in place.
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
unit="$unitdir/vectord.service"
config="$confdir/config.yaml"

upgrade=false
[ -e "$DESTDIR$unit" ] && upgrade=true

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed "s|^ExecStart=/usr/local/bin/vectord |ExecStart=$bindir/vectord |" systemd/vectord.service >"$tmp"
grep -q "^ExecStart=$bindir/vectord run " "$tmp" || die "systemd/vectord.service has no ExecStart=/usr/local/bin/vectord line to point at $bindir"

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

install -d -m 0700 "$DESTDIR$confdir"
[ -n "$DESTDIR" ] || chown "$user:$user" "$confdir"
if [ -e "$DESTDIR$config" ]; then
	echo "kept the existing $config"
else
	install -m 0600 systemd/config.yaml "$DESTDIR$config"
	[ -n "$DESTDIR" ] || chown "$user:$user" "$config"
	echo "installed a starter configuration as $config"
fi

echo "installed $bindir/vectord and $unit${DESTDIR:+ under $DESTDIR}"
if [ -n "$DESTDIR" ]; then
	echo "on the target system, create the $user user (systemd-sysusers) and chown $confdir to it"
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
  2. Add your sites to $config, then check it:
       sudo -u $user $bindir/vectord config check
  3. Start vectord now and at every boot:
       systemctl daemon-reload && systemctl enable --now vectord
  4. Follow it:
       journalctl -u vectord -f
MSG
fi
