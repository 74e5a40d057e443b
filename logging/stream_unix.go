//go:build unix

package logging

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sameStream reports whether f's device and inode are those in stream,
// "DEVICE:INODE" in decimal as systemd writes $JOURNAL_STREAM.
func sameStream(f *os.File, stream string) bool {
	devText, inoText, ok := strings.Cut(stream, ":")
	if !ok {
		return false
	}
	dev, err := strconv.ParseUint(devText, 10, 64)
	if err != nil {
		return false
	}
	ino, err := strconv.ParseUint(inoText, 10, 64)
	if err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
