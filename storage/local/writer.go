package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/builtfast/vectord/storage"
)

const bufferSize = 1 << 20

var errFinished = errors.New("writer already committed or aborted")

// writer writes one object to its partial file.
type writer struct {
	t       *Target
	key     string
	final   string // the object's file
	partial string // the file written until Commit

	f   file          // nil once closed
	bw  *bufio.Writer // nil once finished
	err error         // the first write error; the object cannot be stored

	finished  bool // Commit or Abort was called
	committed bool // Commit succeeded
	removed   bool // the partial file is known to be gone
	// finalLeft: Commit failed after the rename, so the final file must
	// be removed again (by Commit, else by Abort).
	finalLeft bool
}

func newWriter(t *Target, key, final, partial string, f file) *writer {
	return &writer{
		t:       t,
		key:     key,
		final:   final,
		partial: partial,
		f:       f,
		bw:      bufio.NewWriterSize(f, bufferSize),
	}
}

// Write buffers p, writing full buffers to the partial file. The first
// write error is returned again by every later Write and by Commit.
func (w *writer) Write(p []byte) (int, error) {
	if w.finished {
		return 0, fmt.Errorf("local: write %s: %w", w.key, errFinished)
	}
	if w.err != nil {
		return 0, fmt.Errorf("local: write %s: %w", w.key, w.err)
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = err
		return n, fmt.Errorf("local: write %s: %w", w.key, err)
	}
	return n, nil
}

// Commit flushes and fsyncs the partial file, renames it to its final name
// and fsyncs the directory. On failure it removes the partial file (and the
// final one, if the rename happened); if that removal fails too, the error
// says so and Abort retries it.
func (w *writer) Commit(ctx context.Context) (storage.Info, error) {
	if w.finished {
		return storage.Info{}, fmt.Errorf("local: commit %s: %w", w.key, errFinished)
	}
	w.finished = true
	info, err := w.commit(ctx)
	w.bw = nil
	if err != nil {
		if derr := w.discard(); derr != nil {
			return storage.Info{}, fmt.Errorf("local: commit %s: %w; and %w (Abort retries the removal)", w.key, err, derr)
		}
		return storage.Info{}, fmt.Errorf("local: commit %s: %w", w.key, err)
	}
	w.committed = true
	return info, nil
}

func (w *writer) commit(ctx context.Context) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	if w.err != nil {
		return storage.Info{}, fmt.Errorf("write: %w", w.err)
	}
	if err := w.bw.Flush(); err != nil {
		return storage.Info{}, fmt.Errorf("write: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return storage.Info{}, fmt.Errorf("sync: %w", err)
	}
	fi, err := w.f.Stat()
	if err != nil {
		return storage.Info{}, err
	}
	// Rename while the file is still open, so its lock keeps CleanPartials
	// away until it has its final name.
	if err := os.Rename(w.partial, w.final); err != nil {
		return storage.Info{}, err
	}
	w.removed = true
	err = syncDir(filepath.Dir(w.final))
	// Closing also releases the file's lock: the descriptor is gone
	// whatever Close returns, so its error only says that the file may not
	// be intact.
	if cerr := w.f.Close(); cerr != nil {
		if err != nil {
			err = fmt.Errorf("%w; and close: %w", err, cerr)
		} else {
			err = fmt.Errorf("close: %w", cerr)
		}
	}
	w.f = nil
	if err != nil {
		// The file is visible but may not survive a crash: Commit takes it
		// back (discard), so that an error always means "not stored".
		w.finalLeft = true
		return storage.Info{}, err
	}
	return storage.Info{Key: w.key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Abort closes and removes the partial file (and the final file, if a
// failed Commit could not take it back). It is a no-op after a successful
// Commit and after an Abort that removed everything; it returns an error
// while a file is left.
func (w *writer) Abort() error {
	if w.committed {
		return nil
	}
	w.finished = true
	w.bw = nil
	if err := w.discard(); err != nil {
		return fmt.Errorf("local: abort %s: %w", w.key, err)
	}
	return nil
}

// discard closes and removes the partial file, and the final file if a
// failed Commit left it.
func (w *writer) discard() error {
	if w.f != nil {
		// Close's error is of no use here, so it is dropped: the file is
		// removed next, so its content does not matter, and the descriptor
		// (and with it the partial file's lock) is released whatever Close
		// returns; there is nothing to retry.
		_ = w.f.Close()
		w.f = nil
	}
	if w.finalLeft {
		if err := w.removeFinal(); err != nil {
			return err
		}
	}
	if w.removed {
		return nil
	}
	if err := w.t.remove(w.partial); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove partial file: %w", err)
	}
	w.removed = true
	return nil
}

// removeFinal removes the final file that a Commit failing after the
// rename made visible.
func (w *writer) removeFinal() error {
	if err := w.t.remove(w.final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the file not committed: %w", err)
	}
	w.finalLeft = false
	return nil
}
