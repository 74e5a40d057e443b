package integrity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/dump"
	"github.com/builtfast/vectord/storage"
)

// Errors VerifyCopy returns, to match with errors.Is.
var (
	// ErrCorrupt: the stored copy is not the backup its record describes
	// (stored size, decompression, SQL size, SHA-256 or dump trailer).
	// Reading it again will not help.
	ErrCorrupt = errors.New("corrupt")
	// ErrNotDecrypted: the copy is encrypted; its stored size is right but
	// its content was not checked, which needs the age identity.
	ErrNotDecrypted = errors.New("encrypted copy: content not checked without the age identity")
)

// VerifyCopy re-reads the copy of r stored under key on t and checks it:
// its stored size against r.StoredBytes, then the SQL it decompresses to
// against r.SizeBytes and r.SHA256, and that the dump is complete
// (dump.Checker). Memory stays constant whatever the size.
//
// It returns nil when the copy is good; an error matching ErrCorrupt when
// it is not; one matching ErrNotDecrypted when r is encrypted (only its
// size was checked); the target's error, matching storage.ErrNotExist, when
// there is no copy; and any other error (a failed read, ctx's error) when
// the copy could not be read to the end, which says nothing of its content.
func VerifyCopy(ctx context.Context, t storage.Target, key string, r catalog.Record) error {
	c, err := codec.Parse(r.Compression)
	if err != nil {
		return fmt.Errorf("backup %s: %w", r.ID, err)
	}
	info, err := t.Stat(ctx, key)
	if err != nil {
		return err
	}
	if info.Size != r.StoredBytes {
		return fmt.Errorf("%w: stored file has %d bytes, the record says %d", ErrCorrupt, info.Size, r.StoredBytes)
	}
	if r.Encrypted {
		return ErrNotDecrypted
	}
	rc, err := t.Open(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	src := &sourceReader{ctx: ctx, r: rc}
	dec, err := codec.NewReader(src, c)
	if err != nil {
		if src.err != nil {
			return fmt.Errorf("read %s from %s: %w", key, t.Name(), src.err)
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer dec.Close()
	h, chk := sha256.New(), dump.NewChecker()
	n, err := io.Copy(io.MultiWriter(h, chk), dec)
	if src.err != nil {
		return fmt.Errorf("read %s from %s: %w", key, t.Name(), src.err)
	}
	if err != nil {
		return fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
	}
	if n != r.SizeBytes {
		return fmt.Errorf("%w: SQL has %d bytes, the record says %d", ErrCorrupt, n, r.SizeBytes)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != r.SHA256 {
		return fmt.Errorf("%w: SHA-256 %s, the record says %s", ErrCorrupt, sum, r.SHA256)
	}
	if err := chk.Check(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// sourceReader reads a stored object, keeping the first error the storage (or ctx) returned, so that VerifyCopy can tell a
// failed read from corrupt content.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// copyState classifies a copy for repair: good, missing, or present but bad.
type copyState int

const (
	copyGood copyState = iota
	copyMissing
	copyBad
)

// statCopy looks at one copy's file: missing, of the wrong size, or of the
// recorded size (good, as far as its size tells).
func statCopy(ctx context.Context, t storage.Target, key string, r catalog.Record) (copyState, error) {
	info, err := t.Stat(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return copyMissing, nil
	case err != nil:
		return 0, err
	case info.Size != r.StoredBytes:
		return copyBad, nil
	}
	return copyGood, nil
}
