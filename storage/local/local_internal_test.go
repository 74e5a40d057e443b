package local

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/builtfast/vectord/storage"
)

// failingFile is a stand-in for a partial file on a full or failing disk: a
// tmpfs small enough to fill is not available to tests, so writes fail with
// ENOSPC once writeLimit bytes are in, and Sync fails with syncErr.
type failingFile struct {
	file
	written    int
	writeLimit int
	syncErr    error
	closeErr   error // Close closes the file, then returns closeErr
}

func (f *failingFile) Close() error {
	if err := f.file.Close(); err != nil {
		return err
	}
	return f.closeErr
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.written+len(p) > f.writeLimit {
		n, _ := f.file.Write(p[:f.writeLimit-f.written])
		f.written += n
		return n, syscall.ENOSPC
	}
	n, err := f.file.Write(p)
	f.written += n
	return n, err
}

func (f *failingFile) Sync() error {
	if f.syncErr != nil {
		return f.syncErr
	}
	return f.file.Sync()
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name       string
		writeLimit int
		syncErr    error
		size       int   // bytes written
		writeErr   error // wanted from Write, nil if none
		commitErr  error // wanted from Commit
	}{
		{"disk full while writing", 1 << 20, nil, 3 << 20, syscall.ENOSPC, syscall.ENOSPC},
		{"disk full at the final flush", 4096, nil, 100 << 10, nil, syscall.ENOSPC},
		{"fsync fails", 1 << 30, syscall.EIO, 2<<20 + 1, nil, syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			root := t.TempDir()
			tg, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			tg.create = func(name string) (file, error) {
				f, err := createPartial(name)
				if err != nil {
					return nil, err
				}
				return &failingFile{file: f, writeLimit: tt.writeLimit, syncErr: tt.syncErr}, nil
			}
			const key = "acme/production/x.sql.zst"
			w, err := tg.Create(ctx, key)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			_, err = w.Write(bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), tt.size/26+1))
			if tt.writeErr != nil && !errors.Is(err, tt.writeErr) || tt.writeErr == nil && err != nil {
				t.Errorf("Write() = %v, want %v", err, tt.writeErr)
			}
			if tt.writeErr != nil {
				if _, err := w.Write([]byte("more")); !errors.Is(err, tt.writeErr) {
					t.Errorf("Write() after a write error = %v, want %v again", err, tt.writeErr)
				}
			}
			if _, err := w.Commit(ctx); !errors.Is(err, tt.commitErr) {
				t.Errorf("Commit() = %v, want an error matching %v", err, tt.commitErr)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort() = %v", err)
			}
			entries, err := os.ReadDir(filepath.Join(root, "acme", "production"))
			if err != nil || len(entries) != 0 {
				t.Errorf("directory after a failed write holds %v (%v), want nothing: no object, no partial file", entries, err)
			}
			if _, err := tg.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat(%q) = %v, want ErrNotExist", key, err)
			}
		})
	}
}

func TestDeleteError(t *testing.T) {
	ctx := t.Context()
	tg, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const key = "acme/production/old.sql"
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Stand-in for a read-only directory, which does not stop root.
	tg.remove = func(string) error { return &fs.PathError{Op: "remove", Path: key, Err: syscall.EACCES} }
	if err := tg.Delete(ctx, key); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Delete() = %v, want a permission error", err)
	}
	if _, err := tg.Stat(ctx, key); err != nil {
		t.Errorf("Stat(%q) after a failed Delete = %v, want the object still there", key, err)
	}
}

func TestAbortRetriesRemoval(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	tg, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tg.Create(ctx, "acme/production/x.sql")
	if err != nil {
		t.Fatal(err)
	}
	tg.remove = func(string) error { return syscall.EIO }
	if err := w.Abort(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Abort() with a failing remove = %v, want EIO", err)
	}
	matches, _ := filepath.Glob(filepath.Join(root, "acme", "production", "*.partial"))
	if len(matches) != 1 {
		t.Fatalf("partial files after a failed Abort = %q, want 1", matches)
	}
	tg.remove = os.Remove
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort() = %v, want nil", err)
	}
	if _, err := os.Stat(matches[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial file still there after the second Abort (Stat = %v)", err)
	}
}

// failingRemove makes tg's removals fail with err until the returned
// function is called.
func failingRemove(tg *Target, err error) (restore func()) {
	tg.remove = func(string) error { return err }
	return func() { tg.remove = os.Remove }
}

// TestCommitReportsWhatItLeaves fails Commit, before and after the rename,
// with the clean-up failing too: Commit's error must say so (the file
// stays until Abort succeeds), Abort must fail while the removal fails,
// then remove everything.
func TestCommitReportsWhatItLeaves(t *testing.T) {
	tests := []struct {
		name      string
		file      func(f file) file
		commitErr error
		leftover  string // glob of the file left after the failed Commit
	}{
		{"fsync fails: partial file left", func(f file) file { return &failingFile{file: f, writeLimit: 1 << 30, syncErr: syscall.EIO} },
			syscall.EIO, "*.partial"},
		{"close fails after the rename: final file left", func(f file) file { return &failingFile{file: f, writeLimit: 1 << 30, closeErr: syscall.EIO} },
			syscall.EIO, "x.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			root := t.TempDir()
			tg, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			tg.create = func(name string) (file, error) {
				f, err := createPartial(name)
				if err != nil {
					return nil, err
				}
				return tt.file(f), nil
			}
			const key = "acme/production/x.sql"
			w, err := tg.Create(ctx, key)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			if _, err := w.Write([]byte("-- dump\n")); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			restore := failingRemove(tg, syscall.EACCES)
			_, err = w.Commit(ctx)
			if !errors.Is(err, tt.commitErr) || !errors.Is(err, syscall.EACCES) {
				t.Errorf("Commit() = %v, want an error matching %v and the failed removal's EACCES", err, tt.commitErr)
			}
			left, _ := filepath.Glob(filepath.Join(root, "acme", "production", tt.leftover))
			if len(left) != 1 {
				t.Fatalf("files matching %s after the failed Commit = %q, want 1", tt.leftover, left)
			}
			if err := w.Abort(); !errors.Is(err, syscall.EACCES) {
				t.Errorf("Abort() while removal fails = %v, want EACCES", err)
			}
			restore()
			if err := w.Abort(); err != nil {
				t.Errorf("Abort() once removal works = %v, want nil", err)
			}
			entries, err := os.ReadDir(filepath.Join(root, "acme", "production"))
			if err != nil || len(entries) != 0 {
				t.Errorf("directory after Abort holds %v (%v), want nothing", entries, err)
			}
			if _, err := tg.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat(%q) = %v, want ErrNotExist", key, err)
			}
		})
	}
}
