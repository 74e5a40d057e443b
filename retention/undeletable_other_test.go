//go:build !linux

package retention

import (
	"os"
	"testing"
)

// forbidDeletes makes removing entries of dir fail by making it read-only
// and returns a function that allows it again. Root ignores permissions,
// so the test is skipped as root.
func forbidDeletes(tb testing.TB, dir string) (allow func()) {
	tb.Helper()
	if os.Geteuid() == 0 {
		tb.Skip("a read-only directory does not stop root")
	}
	return forbidByMode(tb, dir)
}
