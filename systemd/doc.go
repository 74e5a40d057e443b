// Package systemd holds vectord's systemd integration as files, not code:
// vectord.service (the unit), vectord.sysusers (its system user),
// config.yaml (the starter configuration scripts/install.sh puts in
// /etc/vectord) and the README's "Running as a service" section. Its tests
// check the unit with systemd-analyze and the installer with DESTDIR.
package systemd
