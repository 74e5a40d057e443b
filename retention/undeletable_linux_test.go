package retention

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// fsImmutableFL is the inode flag chattr +i sets (FS_IMMUTABLE_FL).
const fsImmutableFL = 0x10

// forbidDeletes makes removing entries of dir fail and returns a function
// that allows it again (also run at the end of the test). Without root a
// read-only directory does; root ignores permissions, so as root dir is
// made immutable (chattr +i) instead, and the test is skipped where the
// file system or capabilities do not allow that.
func forbidDeletes(tb testing.TB, dir string) (allow func()) {
	tb.Helper()
	if os.Geteuid() != 0 {
		return forbidByMode(tb, dir)
	}
	setFlags := func(set bool) error {
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer f.Close()
		flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
		if err != nil {
			return err
		}
		if set {
			flags |= fsImmutableFL
		} else {
			flags &^= fsImmutableFL
		}
		return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
	}
	if err := setFlags(true); err != nil {
		tb.Skipf("cannot make %s immutable as root: %v", dir, err)
	}
	done := false
	allow = func() {
		if done {
			return
		}
		done = true
		if err := setFlags(false); err != nil {
			tb.Fatalf("make %s mutable again: %v", dir, err)
		}
	}
	tb.Cleanup(allow)
	return allow
}
