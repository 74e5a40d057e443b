package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/builtfast/vectord/dump"
)

// sent describes the bytes of a dump that went out.
type sent struct {
	bytes  int64
	sha256 string
}

// progressStep is how many bytes pass between two Progress calls.
const progressStep = 1 << 20

// meter reads a dump once, hashing it, counting it and checking that it is
// a complete dump, and reports progress.
type meter struct {
	r        io.Reader
	size     int64
	h        hash.Hash
	check    *dump.Checker
	n        int64
	reported int64
	replayed bool // rewound to a position other than the start
	progress func(Progress)
}

func newMeter(r io.Reader, size int64, progress func(Progress)) *meter {
	return &meter{r: r, size: size, h: sha256.New(), check: dump.NewChecker(), progress: progress}
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		m.h.Write(p[:n])
		m.check.Write(p[:n])
		m.n += int64(n)
		if m.progress != nil && (m.n-m.reported >= progressStep || m.n == m.size) {
			m.reported = m.n
			m.progress(Progress{Phase: PhaseUploading, Bytes: m.n, Total: m.size})
		}
	}
	return n, err
}

// reader returns m, as an io.Seeker too when the dump's reader is one, so
// that the client can replay a failed upload.
func (m *meter) reader() io.Reader {
	if s, ok := m.r.(io.Seeker); ok {
		return &seekMeter{m, s}
	}
	return m
}

// finish reads what is left after the dump's Size bytes (there must be
// nothing, and the reader may report a problem it detects at the end) and
// checks what was read.
func (m *meter) finish(src Source) (sent, error) {
	var one [1]byte
	n, err := io.ReadFull(m, one[:])
	switch {
	case n > 0:
		return sent{}, fmt.Errorf("the dump is longer than its size of %d bytes", src.Size)
	case err != nil && !errors.Is(err, io.EOF):
		return sent{}, fmt.Errorf("read the dump: %w", err)
	case m.replayed:
		return sent{}, errors.New("the dump's reader was rewound to the middle; its checksum is unknown")
	case m.n != src.Size:
		return sent{}, fmt.Errorf("the dump ended after %d of %d bytes", m.n, src.Size)
	}
	sum := hex.EncodeToString(m.h.Sum(nil))
	if src.SHA256 != "" && !strings.EqualFold(sum, src.SHA256) {
		return sent{}, fmt.Errorf("the dump's SHA-256 is %s, expected %s: it is damaged or not the one named", sum, strings.ToLower(src.SHA256))
	}
	if err := m.check.Check(); err != nil {
		return sent{}, fmt.Errorf("check the dump: %w", err)
	}
	return sent{bytes: m.n, sha256: sum}, nil
}

// seekMeter is a meter over an io.Seeker. Seeking back to the start starts
// the count and the hash afresh.
type seekMeter struct {
	*meter
	s io.Seeker
}

func (m *seekMeter) Seek(offset int64, whence int) (int64, error) {
	pos, err := m.s.Seek(offset, whence)
	if err != nil {
		return pos, err
	}
	switch {
	case pos == 0:
		m.n, m.reported = 0, 0
		m.h.Reset()
		m.check = dump.NewChecker()
	case pos != m.n:
		m.replayed = true
	}
	return pos, nil
}

// ctxReader stops reading once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
