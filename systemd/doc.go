// Package systemd holds vectord's systemd integration as files, not code:
// vectord.service (the unit), vectord.sysusers (its system user) and the
// README's "Quick start" and "Running as a service" sections; the starter
// configuration scripts/install.sh puts in /etc/vectord is the top-level
// config.example.yaml with the API token read from the unit's credential.
// Its tests check the unit with systemd-analyze, the installer with
// DESTDIR, and run the README's quick start, command by command, in a
// temporary root against the simulated Vector API.
package systemd
