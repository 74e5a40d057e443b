//go:build !linux

package e2e

import "testing"

// forbidDeletes skips the test: only Linux has immutable files (chattr +i),
// and a read-only directory would also stop new backups from being stored.
func forbidDeletes(t *testing.T, paths ...string) (allow func()) {
	t.Helper()
	t.Skip("undeletable files need chattr +i (Linux)")
	return func() {}
}
