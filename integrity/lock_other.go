//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package integrity

import (
	"errors"
	"io/fs"
	"os"
)

// inUse cannot tell on this system: without flock a live writer's partial
// file looks like a leftover (Checker.MinAge and the check's start time
// keep files being written out of the report).
func inUse(string) (bool, error) { return false, nil }

// removeUnused removes the file at name and reports whether it did.
func removeUnused(name string) (bool, error) {
	if err := os.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
