package restore

import (
	"bytes"
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

// meter reads a dump, hashing it, counting it and checking that it is a
// complete dump, and reports progress. Each byte is hashed and checked the
// first time it is read; see seekMeter for reading parts of it again.
type meter struct {
	r        io.Reader
	size     int64
	h        hash.Hash     // SHA-256 of the bytes [0, hwm)
	check    *dump.Checker // has seen the bytes [0, hwm)
	n        int64         // the position: the next byte read is byte n
	hwm      int64         // bytes read at least once
	reported int64
	// mark is where a seek last found the reader at hwm (a part's start);
	// markHash hashes the bytes [mark, hwm) as first read, replay the
	// bytes [mark, n) read again, until n is back at hwm.
	mark     int64
	markHash hash.Hash
	replay   hash.Hash
	replayed bool  // moved to a position whose bytes cannot be verified
	failed   error // bytes read again differed: every Read fails
	progress func(Progress)
}

func newMeter(r io.Reader, size int64, progress func(Progress)) *meter {
	return &meter{r: r, size: size, h: sha256.New(), check: dump.NewChecker(), markHash: sha256.New(), progress: progress}
}

func (m *meter) Read(p []byte) (int, error) {
	if m.failed != nil {
		return 0, m.failed
	}
	n, err := m.r.Read(p)
	if n > 0 {
		if m.failed = m.record(p[:n]); m.failed != nil {
			// No bytes with the error: a caller that has what it asked
			// for (io.CopyN) would drop it.
			return 0, m.failed
		}
		if m.progress != nil && (m.n-m.reported >= progressStep || m.n == m.size) {
			m.reported = m.n
			m.progress(Progress{Phase: PhaseUploading, Bytes: m.n, Total: m.size})
		}
	}
	return n, err
}

// record takes b, read at position n: bytes read again go to the replay
// hash, which must match the first reading once it catches up; new bytes
// go to the hash and the checker.
func (m *meter) record(b []byte) error {
	if m.n < m.hwm {
		k := min(int64(len(b)), m.hwm-m.n)
		if m.replay != nil {
			m.replay.Write(b[:k])
		}
		m.n += k
		b = b[k:]
		if m.n == m.hwm && m.replay != nil {
			if !bytes.Equal(m.replay.Sum(nil), m.markHash.Sum(nil)) {
				return fmt.Errorf("%w: bytes %d to %d read again differ from the first reading", errDumpChanged, m.mark, m.hwm)
			}
			m.replay = nil
		}
	}
	if len(b) == 0 {
		return nil
	}
	m.h.Write(b)
	m.check.Write(b)
	m.markHash.Write(b)
	m.n += int64(len(b))
	m.hwm = max(m.hwm, m.n)
	return nil
}

// errDumpChanged: bytes of the dump read a second time (to send a part
// again) are not what they were the first time.
var errDumpChanged = errors.New("the dump changed while it was being sent")

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
	case m.n != src.Size || m.hwm != src.Size:
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
// the count and the hash afresh. A seek that finds the reader where it has
// read up to marks the position (the client does so at the start of each
// part of a multipart upload); seeking back to the last mark (to send a
// failed part again) reads the bytes from there again and checks that they
// are the ones hashed the first time, so the hash stays that of the bytes
// sent. Any other seek leaves the checksum unknown, and finish fails.
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
		m.n, m.hwm, m.reported, m.mark = 0, 0, 0, 0
		m.h.Reset()
		m.check = dump.NewChecker()
		m.markHash, m.replay, m.replayed = sha256.New(), nil, false
	case pos == m.n && m.n == m.hwm:
		m.mark, m.markHash, m.replay = pos, sha256.New(), nil
	case pos == m.n:
	case pos == m.mark && pos < m.hwm:
		m.n, m.reported, m.replay = pos, pos, sha256.New()
	default:
		m.replayed = true
		m.n, m.reported, m.replay = pos, min(pos, m.reported), nil
	}
	return pos, nil
}

// reopener is a dump from its Source that can seek: with the reader's own
// Seek when it has one, else by opening the dump again when it must go
// back, and reading up to the position. So a part of a multipart upload
// can be sent again from a stream (a decompressed, decrypted backup) in
// constant memory, at the cost of reading the dump again up to the part.
type reopener struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	pos  int64
}

func openReopener(open func() (io.ReadCloser, error)) (*reopener, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	return &reopener{open: open, rc: rc}, nil
}

func (r *reopener) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.pos += int64(n)
	return n, err
}

func (r *reopener) Seek(offset int64, whence int) (int64, error) {
	target := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		target += r.pos
	default:
		return r.pos, errors.New("seek: only from the dump's start or the current position")
	}
	switch {
	case target < 0:
		return r.pos, fmt.Errorf("seek to byte %d of the dump", target)
	case target == r.pos:
		return r.pos, nil
	}
	if s, ok := r.rc.(io.Seeker); ok {
		pos, err := s.Seek(target, io.SeekStart)
		if err != nil {
			return r.pos, err
		}
		r.pos = pos
		return pos, nil
	}
	if target < r.pos {
		cerr := r.rc.Close()
		rc, err := r.open()
		if err != nil {
			r.rc = io.NopCloser(errReader{err})
			return r.pos, fmt.Errorf("open the dump again: %w", errors.Join(err, cerr))
		}
		r.rc, r.pos = rc, 0
	}
	n, err := io.CopyN(io.Discard, r.rc, target-r.pos)
	r.pos += n
	if errors.Is(err, io.EOF) {
		return r.pos, fmt.Errorf("the dump ended after %d bytes, before byte %d", r.pos, target)
	}
	if err != nil {
		return r.pos, fmt.Errorf("read the dump up to byte %d: %w", target, err)
	}
	return r.pos, nil
}

func (r *reopener) Close() error { return r.rc.Close() }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

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
