//go:build !unix

package sdnotify

import "errors"

// monotonicUsec fails where there is no CLOCK_MONOTONIC (and no systemd).
func monotonicUsec() (uint64, error) {
	return 0, errors.New("CLOCK_MONOTONIC is not available on this platform")
}
