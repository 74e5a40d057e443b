//go:build unix

package config

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// fileOwner returns the name and uid of the user that owns the file at
// path; ok is false when they cannot be found.
func fileOwner(path string) (name string, uid int, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, false
	}
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat {
		return "", 0, false
	}
	uid = int(st.Uid)
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return "", 0, false
	}
	return u.Username, uid, true
}
