package restore

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxAnswer bounds how much of a line Confirm reads.
const maxAnswer = 256

// Origin is what an import brings into its target, as the confirmation
// names it: a stored backup or an SQL file. The zero Origin names nothing.
type Origin struct {
	// BackupID, Site and Environment name a stored backup: its catalog id
	// and the configured names it was taken from.
	BackupID          string
	Site, Environment string
	// CompletedAt is when the backup completed, shown in its own location:
	// pass it in the zone the reader reads.
	CompletedAt time.Time
	// File is the path of an SQL file, for an import that is not a backup.
	File string
	// Size is the SQL's size in bytes; 0 is not shown.
	Size int64
}

// String names o for people: "backup 01J… of site acme environment
// production (completed 2026-05-02 03:12:44 CEST, 1.2 GiB)", or "file
// dump.sql (1.2 GiB)".
func (o Origin) String() string {
	var what string
	var details []string
	switch {
	case o.BackupID != "":
		what = "backup " + o.BackupID
		if o.Site != "" {
			what += fmt.Sprintf(" of site %s environment %s", o.Site, o.Environment)
		}
		if !o.CompletedAt.IsZero() {
			details = append(details, "completed "+o.CompletedAt.Format("2006-01-02 15:04:05 MST"))
		}
	case o.File != "":
		what = "file " + o.File
	default:
		return ""
	}
	if o.Size > 0 {
		details = append(details, humanBytes(o.Size))
	}
	if len(details) > 0 {
		what += " (" + strings.Join(details, ", ") + ")"
	}
	return what
}

// Cross says whether a backup goes into another site ("cross-site") or
// another environment of its site ("cross-environment") than it was
// taken from; "" when it goes back where it came from, or for a file.
func (o Origin) Cross(t Target) string {
	switch {
	case o.BackupID == "" || o.Site == "":
		return ""
	case o.Site != t.Site:
		return "cross-site"
	case o.Environment != t.Environment:
		return "cross-environment"
	}
	return ""
}

// Confirm asks whether to import from into t, which replaces t's
// database. With yes it returns nil without asking. On a terminal it
// writes the question to out, naming the source, the target and whether
// the import is cross-site or cross-environment:
//
//	Import backup 01J… of site acme environment production (completed 2026-05-02 03:12:44 CEST, 1.2 GiB)
//	into site globex environment development? This is a cross-site import; it replaces the database of site globex environment development. [y/N]
//
// (no newline after [y/N]; a zero from asks "Import into site S
// environment E? This replaces its database. [y/N] ") and reads one line
// from in: "y" or "yes" (any case) confirms; anything else, an empty line
// or the end of in does not. Without a terminal and without yes it
// refuses, naming the source, the target and --yes.
//
// It returns nil when confirmed, an error matching ErrNotConfirmed when
// not, or the error of writing the question or reading the answer. It reads
// in one byte at a time and never past the answer's line, so in may go on
// to be read by others.
func Confirm(in io.Reader, out io.Writer, isTerminal bool, yes bool, t Target, from Origin) error {
	if yes {
		return nil
	}
	source, cross := from.String(), from.Cross(t)
	if !isTerminal {
		what := "importing into " + t.String()
		if source != "" {
			what = fmt.Sprintf("importing %s into %s", source, t)
		}
		if cross != "" {
			what += " (" + cross + ")"
		}
		return fmt.Errorf("%w: %s replaces its database; pass --yes to confirm without a terminal", ErrNotConfirmed, what)
	}
	question := fmt.Sprintf("Import into %s? This replaces its database. [y/N] ", t)
	switch {
	case source != "" && cross != "":
		question = fmt.Sprintf("Import %s\ninto %s? This is a %s import; it replaces the database of %s. [y/N] ", source, t, cross, t)
	case source != "":
		question = fmt.Sprintf("Import %s\ninto %s? This replaces its database. [y/N] ", source, t)
	}
	if _, err := io.WriteString(out, question); err != nil {
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
