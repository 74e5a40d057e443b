//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// lock takes an advisory exclusive lock on f, held until f is closed. It is
// best effort: where the file system has no locks, CleanPartials cannot
// tell live partial files from stale ones.
func lock(f *os.File) {
	_ = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
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
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	// Holding the lock (or unable to lock at all): the writer is gone.
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
