package restore

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxAnswer bounds how much of a line Confirm reads.
const maxAnswer = 256

// Confirm asks whether to import into t, which replaces its database.
// With yes it returns nil without asking. On a terminal it writes
//
//	Import into site S environment E? This replaces its database. [y/N]
//
// to out (no newline) and reads one line from in: "y" or "yes" (any case)
// confirms; anything else, an empty line or the end of in does not.
// Without a terminal and without yes it refuses, naming --yes.
//
// It returns nil when confirmed, an error matching ErrNotConfirmed when
// not, or the error of writing the question or reading the answer. It reads
// in one byte at a time and never past the answer's line, so in may go on
// to be read by others.
func Confirm(in io.Reader, out io.Writer, isTerminal bool, yes bool, t Target) error {
	if yes {
		return nil
	}
	if !isTerminal {
		return fmt.Errorf("%w: importing into %s replaces its database; pass --yes to confirm without a terminal", ErrNotConfirmed, t)
	}
	if _, err := fmt.Fprintf(out, "Import into %s? This replaces its database. [y/N] ", t); err != nil {
		return fmt.Errorf("ask for confirmation: %w", err)
	}
	answer, err := readLine(in)
	if err != nil {
		return fmt.Errorf("read the confirmation: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) { // an overlong line reads as ""
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%w: the answer was not yes", ErrNotConfirmed)
}

// readLine reads in up to and including the next newline (or its end) and
// returns the line without it; a line longer than maxAnswer bytes gives "".
func readLine(in io.Reader) (string, error) {
	var (
		line []byte
		b    [1]byte
	)
	for {
		n, err := in.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(line) <= maxAnswer {
				line = append(line, b[0])
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(line) > maxAnswer {
		return "", nil
	}
	return string(line), nil
}
