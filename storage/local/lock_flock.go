//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// lock takes an advisory exclusive lock on f, held until f is closed. An
// error matching errLocked means another holder (CleanPartials) has it.
// Where the file system has no locks it returns nil: locking is then best
// effort, and CleanPartials cannot tell live partial files from stale
// ones.
func lock(f *os.File) error {
	err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil || noLocks(err):
		return nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("%w: %w", errLocked, err)
	}
	return fmt.Errorf("lock: %w", err)
}

// noLocks reports whether a flock error says that the file system has no
// locks (NFS without a lock manager, some FUSE file systems).
func noLocks(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

// removeUnlocked removes the file at name unless a live writer holds its
// lock, and reports whether it removed it.
func removeUnlocked(name string, remove func(string) error) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Closing releases the lock taken below. The descriptor is read-only
	// and gone whatever Close returns, so its error tells nothing to act
	// on.
	defer f.Close()
	switch err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, nil // a live writer holds it
	case err != nil && !noLocks(err):
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	// Holding the lock (or on a file system without locks): the writer is
	// gone.
	if err := remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // committed or aborted meanwhile
		}
		return false, err
	}
	return true, nil
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), how) }); err != nil {
		return err
	}
	return ferr
}

// partialInUse reports whether a live writer holds the lock on the partial
// file at name. A file gone meanwhile (committed or removed) counts as in
// use: it is no leftover.
func partialInUse(name string) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close() // releases the lock taken below
	switch err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	case err != nil && !noLocks(err):
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	return false, nil
}
