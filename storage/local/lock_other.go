//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package local

import (
	"errors"
	"io/fs"
	"os"
)

// lock does nothing here: this system has no flock, so CleanPartials cannot
// tell live partial files from stale ones.
func lock(*os.File) error { return nil }

// removeUnlocked removes the file at name and reports whether it did.
func removeUnlocked(name string, remove func(string) error) (bool, error) {
	if err := remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// partialInUse cannot tell here: without flock no writer holds a lock.
func partialInUse(name string) (bool, error) {
	if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return false, nil
}
