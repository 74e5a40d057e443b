package dump

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxNamesShown bounds the member names an archive error lists.
const maxNamesShown = 20

// TarSQL returns the SQL dump inside an uncompressed tar stream (a
// platform backup's archive, once gunzipped; CONTRACT §9): the one member
// whose name ends in ".sql", or ".sql.gz" (then gunzipped). Members before
// it are skipped as they stream, never buffered. Once the member has been
// read to its end, the rest of the archive is read through to check that
// it holds no second such member, so the reader's io.EOF means the whole
// archive was read and held exactly one dump. An archive with no dump
// member, with several, or that is not a tar stream fails with an error
// naming its members.
func TarSQL(r io.Reader) io.Reader {
	return &tarSQL{tr: tar.NewReader(r)}
}

type tarSQL struct {
	tr     *tar.Reader
	names  []string
	found  string    // the dump member's name
	member io.Reader // the dump member while it is read
	err    error     // sticky
}

func isSQLMember(h *tar.Header) bool {
	if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
		return false
	}
	n := strings.ToLower(h.Name)
	return strings.HasSuffix(n, ".sql") || strings.HasSuffix(n, ".sql.gz")
}

func (t *tarSQL) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.member == nil {
		if err := t.findMember(); err != nil {
			t.err = err
			return 0, err
		}
	}
	n, err := t.member.Read(p)
	if errors.Is(err, io.EOF) {
		if err := t.rest(); err != nil {
			t.err = err
			return n, err
		}
		t.err = io.EOF
	} else if err != nil {
		t.err = fmt.Errorf("read %s in the backup archive: %w", t.found, err)
		err = t.err
	}
	return n, err
}

// findMember skips to the dump member.
func (t *tarSQL) findMember() error {
	for {
		h, err := t.tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the backup archive holds no .sql dump; its members: %s", t.list())
		}
		if err != nil {
			return fmt.Errorf("read the backup archive (after %s): %w", t.list(), err)
		}
		t.names = append(t.names, h.Name)
		if !isSQLMember(h) {
			continue // tar.Reader discards the unread content on Next
		}
		t.found = h.Name
		t.member = t.tr
		if strings.HasSuffix(strings.ToLower(h.Name), ".gz") {
			gz, err := gzip.NewReader(t.tr)
			if err != nil {
				return fmt.Errorf("read %s in the backup archive: %w", h.Name, err)
			}
			t.member = gz
		}
		return nil
	}
}

// rest reads the archive past the dump member and refuses a second one.
func (t *tarSQL) rest() error {
	var more []string
	for {
		h, err := t.tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the backup archive after %s: %w", t.found, err)
		}
		t.names = append(t.names, h.Name)
		if isSQLMember(h) {
			more = append(more, h.Name)
		}
	}
	if len(more) > 0 {
		return fmt.Errorf("the backup archive holds several .sql dumps (%s and %s); its members: %s",
			t.found, strings.Join(more, ", "), t.list())
	}
	return nil
}

func (t *tarSQL) list() string {
	if len(t.names) == 0 {
		return "none"
	}
	if len(t.names) > maxNamesShown {
		return strings.Join(t.names[:maxNamesShown], ", ") + fmt.Sprintf(" and %d more", len(t.names)-maxNamesShown)
	}
	return strings.Join(t.names, ", ")
}
