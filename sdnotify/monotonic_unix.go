//go:build unix

package sdnotify

import (
	"golang.org/x/sys/unix"
)

// monotonicUsec returns CLOCK_MONOTONIC in microseconds: the clock systemd
// compares MONOTONIC_USEC with, which Go's time package does not expose.
func monotonicUsec() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, err
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3, nil
}
