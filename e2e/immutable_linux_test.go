package e2e

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// fsImmutableFL is the inode flag chattr +i sets (FS_IMMUTABLE_FL).
const fsImmutableFL = 0x10

// setImmutable sets or clears the immutable flag of a file: an immutable
// file cannot be removed or renamed, not even by root, while its directory
// stays writable. It fails with the ioctl's error where the caller lacks
// CAP_LINUX_IMMUTABLE or the file system has no such flag.
func setImmutable(path string, on bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
}

// forbidDeletes makes the files undeletable and returns a function that
// allows deleting them again (also run at the end of the test). It skips
// the test where files cannot be made immutable.
func forbidDeletes(t *testing.T, paths ...string) (allow func()) {
	t.Helper()
	var set []string
	allow = func() {
		for _, p := range set {
			if err := setImmutable(p, false); err != nil && !os.IsNotExist(err) {
				t.Errorf("chattr -i %s: %v", p, err)
			}
		}
		set = nil
	}
	t.Cleanup(allow)
	for _, p := range paths {
		if err := setImmutable(p, true); err != nil {
			allow()
			t.Skipf("cannot make %s immutable (needs root and a file system with chattr +i): %v", p, err)
		}
		set = append(set, p)
	}
	return allow
}
