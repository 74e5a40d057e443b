package retention

import (
	"os"
	"testing"
)

// forbidByMode makes dir read-only and returns a function that makes it
// writable again (also run at the end of the test).
func forbidByMode(tb testing.TB, dir string) (allow func()) {
	tb.Helper()
	if err := os.Chmod(dir, 0o500); err != nil {
		tb.Fatalf("make %s read-only: %v", dir, err)
	}
	done := false
	allow = func() {
		if done {
			return
		}
		done = true
		if err := os.Chmod(dir, 0o700); err != nil {
			tb.Fatalf("make %s writable: %v", dir, err)
		}
	}
	tb.Cleanup(allow)
	return allow
}
