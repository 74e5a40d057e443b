//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package integrity

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// inUse reports whether a live writer holds the lock storage/local takes
// on a partial file while it writes it.
func inUse(name string) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // committed or removed meanwhile: not a leftover
	}
	if err != nil {
		return false, err
	}
	defer f.Close() // releases the lock tryLock may take
	return !tryLock(f), nil
}

// removeUnused removes the file at name unless a live writer holds its
// lock, and reports whether it removed it.
func removeUnused(name string) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if !tryLock(f) {
		return false, nil
	}
	if err := os.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// tryLock takes f's exclusive lock without waiting; it reports false only
// when someone else holds it (a file system without locks counts as free).
func tryLock(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return true
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB) }); err != nil {
		return true
	}
	return !errors.Is(ferr, syscall.EWOULDBLOCK)
}
