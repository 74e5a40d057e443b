// Package dump checks that a streamed SQL dump is complete, in constant
// memory.
//
// mysqldump and mariadb-dump open their output with a "-- MySQL dump" or
// "-- MariaDB dump" comment (recent MariaDB versions put a
// "/*M!999999\- enable the sandbox mode */" line before it) and end it
// with "-- Dump completed". A dump that opens with such a header (within
// its first KiB) but whose last non-blank line does not start with
// "-- Dump completed" was cut short. Blank lines, trailing spaces and
// CRLF line ends after the trailer do not matter.
package dump

import (
	"bytes"
	"errors"
	"fmt"
)

// Errors returned by [Checker.Check], to match with errors.Is.
var (
	ErrEmpty      = errors.New("dump is empty")
	ErrIncomplete = errors.New("dump is incomplete")
)

// headSize is how far into a dump its header is looked for.
const headSize = 1024

const (
	sandboxLine   = `/*M!999999\- enable the sandbox mode */`
	mysqlHeader   = "-- MySQL dump"
	mariadbHeader = "-- MariaDB dump"
	trailer       = "-- Dump completed"
)

// Checker is an io.Writer that sees a plain SQL stream once and then
// tells whether it is complete. It keeps the first KiB and
// the start of the last non-blank line, whatever the size of the stream.
// The zero value is ready to use; a Checker is not safe for concurrent
// use.
type Checker struct {
	n    int64  // bytes written
	head []byte // the first headSize bytes

	// The line being written: its start (up to len(trailer) bytes) and
	// whether it holds anything but blanks.
	cur     []byte
	curText bool
	// The start of the last complete line that was not blank.
	last    []byte
	hasLast bool
}

// NewChecker returns a Checker for one stream.
func NewChecker() *Checker {
	return &Checker{}
}

// Write records p. It never fails.
func (c *Checker) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if room := headSize - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}

	nl := bytes.LastIndexByte(p, '\n')
	if nl < 0 {
		c.extend(p)
		return len(p), nil
	}
	// p ends the current line and maybe others: keep the last of them
	// that is not blank.
	done := p[:nl]
	if j := lastNonBlank(done); j >= 0 {
		start := bytes.LastIndexByte(done[:j], '\n') + 1
		if start == 0 {
			c.extend(done[:j+1])
			c.setLast(c.cur)
		} else {
			c.setLast(done[start : j+1])
		}
	} else if c.curText {
		c.setLast(c.cur)
	}
	c.cur = c.cur[:0]
	c.curText = false
	c.extend(p[nl+1:])
	return len(p), nil
}

// extend adds bytes without a newline to the current line.
func (c *Checker) extend(p []byte) {
	if room := len(trailer) - len(c.cur); room > 0 {
		c.cur = append(c.cur, p[:min(room, len(p))]...)
	}
	if !c.curText && lastNonBlank(p) >= 0 {
		c.curText = true
	}
}

func (c *Checker) setLast(line []byte) {
	c.last = append(c.last[:0], line[:min(len(trailer), len(line))]...)
	c.hasLast = true
}

// Kind returns "mysql" or "mariadb" when the header written so far names
// the dump's origin, else "".
func (c *Checker) Kind() string {
	return kind(c.head)
}

// Check reports whether the stream written so far is a complete dump. It
// returns nil when it is, an error matching [ErrEmpty] when nothing was
// written, and an error matching [ErrIncomplete] when the stream opens
// with a MySQL or MariaDB dump header but its last non-blank line does not
// start with "-- Dump completed". A non-empty stream without such a
// header is accepted: it may be SQL from another tool. Messages never
// quote the dump's content.
func (c *Checker) Check() error {
	if c.n == 0 {
		return ErrEmpty
	}
	k := c.Kind()
	if k == "" {
		return nil
	}
	last, ok := c.last, c.hasLast
	if c.curText {
		last, ok = c.cur, true
	}
	if ok && bytes.HasPrefix(last, []byte(trailer)) {
		return nil
	}
	return fmt.Errorf("%w: %s dump of %d bytes does not end with a %q line", ErrIncomplete, displayName(k), c.n, trailer)
}

// IsGzip reports whether a stream starting with first is gzip-compressed.
func IsGzip(first []byte) bool {
	return len(first) >= 2 && first[0] == 0x1f && first[1] == 0x8b
}

// kind reads the header from the first bytes of a dump.
func kind(head []byte) string {
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	if string(bytes.TrimRight(line, blanks)) == sandboxLine {
		line, _, _ = bytes.Cut(rest, []byte("\n"))
	}
	switch {
	case bytes.HasPrefix(line, []byte(mysqlHeader)):
		return "mysql"
	case bytes.HasPrefix(line, []byte(mariadbHeader)):
		return "mariadb"
	}
	return ""
}

func displayName(kind string) string {
	if kind == "mariadb" {
		return "MariaDB"
	}
	return "MySQL"
}

// blanks are the bytes a blank line may hold besides '\n'.
const blanks = " \t\r\v\f"

// lastNonBlank returns the index of the last byte of p that is neither a
// blank nor a newline, or -1.
func lastNonBlank(p []byte) int {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case ' ', '\t', '\r', '\v', '\f', '\n':
		default:
			return i
		}
	}
	return -1
}
