// Package sdnotify tells systemd about the service's state through the
// sd_notify protocol: one datagram per message to the unix socket named by
// $NOTIFY_SOCKET.
//
// Every function is a no-op that returns sent == false and a nil error when
// the process was not started by systemd with Type=notify (NOTIFY_SOCKET
// unset), so the daemon calls them unconditionally. The package holds no
// state: each call reads the environment afresh.
//
// A Type=notify daemon sends Ready once it serves, Reloading when it starts
// re-reading its configuration and Ready again when it is done (whatever
// the outcome), Stopping when it begins to shut down, and, when
// WatchdogInterval reports a watchdog, Watchdog at half that interval for
// as long as it is healthy.
package sdnotify

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// writeTimeout bounds one send: the service manager reads its socket
// promptly, and a daemon must not hang on it if it does not.
const writeTimeout = 5 * time.Second

// Notify sends state, newline-separated VARIABLE=value assignments such as
// "READY=1" or "STATUS=idle", to the service manager at $NOTIFY_SOCKET: an
// absolute path, or an abstract socket name starting with "@".
//
// It returns sent == false and a nil error when NOTIFY_SOCKET is unset or
// empty. It returns an error, and sent == false, when state is empty, when
// NOTIFY_SOCKET holds an address of another kind (such as "vsock:"), or when
// the datagram cannot be delivered within a few seconds (no socket there,
// permission denied, the receiver's queue full).
func Notify(state string) (sent bool, err error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if state == "" {
		return false, errors.New("notify service manager: empty state")
	}
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return false, fmt.Errorf("notify service manager: unsupported NOTIFY_SOCKET address %q: want an absolute path or @abstract name", addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notify service manager at %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return false, fmt.Errorf("notify service manager at %s: %w", addr, err)
	}
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notify service manager at %s: %w", addr, err)
	}
	return true, nil
}

// Ready tells the service manager that start-up, or a reload announced by
// Reloading, is complete ("READY=1"). Its results are Notify's.
func Ready() (sent bool, err error) {
	return Notify("READY=1")
}

// Stopping tells the service manager that the service is shutting down
// ("STOPPING=1"). Its results are Notify's.
func Stopping() (sent bool, err error) {
	return Notify("STOPPING=1")
}

// Reloading tells the service manager that the service is reloading its
// configuration: "RELOADING=1" with "MONOTONIC_USEC=" set to the current
// CLOCK_MONOTONIC time in microseconds, which systemd 253 and later require
// to match the message to the reload it requested (older versions ignore
// it). Send Ready when the reload is over, whether or not it succeeded.
//
// Its results are Notify's; it also returns an error when the monotonic
// clock cannot be read.
func Reloading() (sent bool, err error) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return false, nil
	}
	usec, err := monotonicUsec()
	if err != nil {
		return false, fmt.Errorf("notify service manager: read monotonic clock: %w", err)
	}
	return Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatUint(usec, 10))
}

// Watchdog tells the service manager that the service is alive
// ("WATCHDOG=1"). Its results are Notify's.
func Watchdog() (sent bool, err error) {
	return Notify("WATCHDOG=1")
}

// WatchdogInterval reports whether the service manager expects Watchdog
// pings from this process, and the timeout after which it acts if none
// arrives ($WATCHDOG_USEC). Ping at half of it.
//
// It returns false when WATCHDOG_USEC is unset, not a positive number of
// microseconds, or too large for a time.Duration, and when WATCHDOG_PID is
// set to anything but this process's pid (the variables were inherited
// from a parent the watchdog is meant for).
func WatchdogInterval() (time.Duration, bool) {
	usec, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec == 0 || usec > math.MaxInt64/uint64(time.Microsecond) {
		return 0, false
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(usec) * time.Microsecond, true
}
