// Package local is a storage.Target on a directory tree of the local file
// system.
//
// An object is the regular file at <root>/<key>, mode 0600, in directories
// of mode 0700 (whatever the umask). Create writes to
// "<final>.<random>.partial" in the final directory; Commit flushes and
// fsyncs it, renames it to its final name and fsyncs the directory. A crash
// at any point leaves either nothing or the complete file, plus possibly a
// ".partial" file, which List never reports and CleanPartials removes.
//
// Symbolic links inside the tree are not objects: List does not follow them
// and Open, Stat and Delete treat a key naming one as missing. A key cannot
// name both an object and a directory of other objects ("a/b" and "a/b/c").
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/builtfast/vectord/storage"
)

const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// Target stores objects under a root directory. It is safe for concurrent
// use, also with other processes on the same root.
type Target struct {
	root string // absolute, symbolic links resolved

	// Stand-ins for tests: create makes a new partial file, remove deletes a
	// file.
	create func(name string) (file, error)
	remove func(name string) error
}

// file is what a writer needs of an *os.File.
type file interface {
	io.Writer
	Sync() error
	Stat() (fs.FileInfo, error)
	Close() error
}

var _ storage.Target = (*Target)(nil)

// New returns a Target storing under root, creating root (mode 0700) and its
// missing parents if needed. It fails if root is not a directory.
func New(root string) (*Target, error) {
	if root == "" {
		return nil, errors.New("local: root directory not set")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local: resolve root %s: %w", root, err)
	}
	if err := mkdirAll(abs); err != nil {
		return nil, fmt.Errorf("local: create root %s: %w", abs, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("local: resolve root %s: %w", abs, err)
	}
	return &Target{root: resolved, create: createPartial, remove: os.Remove}, nil
}

// Name returns "local".
func (t *Target) Name() string { return "local" }

// URI returns the object's absolute path as a file:// URI.
func (t *Target) URI(key string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(t.path(key))}
	return u.String()
}

// Create starts writing the object under key, creating its directories. The
// returned Writer writes "<final>.<random>.partial" until Commit.
func (t *Target) Create(ctx context.Context, key string) (storage.Writer, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("local: create %s: %w", key, err)
	}
	final := t.path(key)
	dir := filepath.Dir(final)
	for attempt := 1; ; attempt++ {
		if err := mkdirAll(dir); err != nil {
			return nil, fmt.Errorf("local: create %s: %w", key, err)
		}
		suffix, err := randomSuffix()
		if err != nil {
			return nil, fmt.Errorf("local: create %s: %w", key, err)
		}
		partial := final + suffix
		f, err := t.create(partial)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			// A concurrent Delete removed the directory once it was empty,
			// or a concurrent CleanPartials took the new file
			// (errPartialTaken).
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("local: create %s: %w", key, err)
		}
		return newWriter(t, key, final, partial, f), nil
	}
}

// Open returns the object's file. The error matches storage.ErrNotExist if
// key names no regular file.
func (t *Target) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if _, err := t.stat(ctx, key); err != nil {
		return nil, fmt.Errorf("local: open %s: %w", key, err)
	}
	f, err := os.Open(t.path(key))
	if err != nil {
		return nil, fmt.Errorf("local: open %s: %w", key, notExist(err))
	}
	return f, nil
}

// Stat describes the object. The error matches storage.ErrNotExist if key
// names no regular file.
func (t *Target) Stat(ctx context.Context, key string) (storage.Info, error) {
	fi, err := t.stat(ctx, key)
	if err != nil {
		return storage.Info{}, fmt.Errorf("local: stat %s: %w", key, err)
	}
	return storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (t *Target) stat(ctx context.Context, key string) (fs.FileInfo, error) {
	if err := check(ctx, key); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(t.path(key))
	if err != nil {
		return nil, notExist(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, storage.ErrNotExist
	}
	return fi, nil
}

// Delete removes the object's file, makes the removal durable and then
// removes the directories it leaves empty, up to (not including) the root.
// A missing object is not an error; a file that cannot be removed (for
// example in a read-only directory) is.
func (t *Target) Delete(ctx context.Context, key string) error {
	if _, err := t.stat(ctx, key); err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	name := t.path(key)
	if err := t.remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	dir := filepath.Dir(name)
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	// Best effort: a directory still holding something stays, which is fine.
	for dir != t.root && strings.HasPrefix(dir, t.root) && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
	return nil
}

// List returns the committed objects whose keys start with prefix, sorted by
// key. Partial files, directories, symbolic links and files whose relative
// path is not a valid key are skipped.
func (t *Target) List(ctx context.Context, prefix string) ([]storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: list %s: %w", prefix, err)
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("local: list: %w", err)
	}
	// Walk only the deepest directory the prefix names in full.
	start := t.path(prefix[:strings.LastIndex(prefix, "/")+1])
	infos := []storage.Info{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		key := t.key(p)
		if d.IsDir() {
			if p != start && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(d.Name(), storage.PartialSuffix) ||
			!strings.HasPrefix(key, prefix) || storage.ValidateKey(key) != nil {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		infos = append(infos, storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("local: list %s: %w", prefix, err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	return infos, nil
}

// CleanPartials removes every "*.partial" file under the root, except those
// a live Writer (in this or another process) still holds, and returns the
// removed files' paths relative to the root, slash-separated. It goes on
// after an error and returns all of them joined. Run at start-up, it
// removes what writers interrupted by a crash left.
func (t *Target) CleanPartials(ctx context.Context) (removed []string, err error) {
	var errs []error
	walkErr := filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), storage.PartialSuffix) {
			return nil
		}
		ok, err := removeUnlocked(p, t.remove)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed = append(removed, t.key(p))
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("local: clean partial files in %s: %w", t.root, err)
	}
	return removed, nil
}

// path returns the file path of key (or of a prefix ending with "/").
func (t *Target) path(key string) string {
	return filepath.Join(t.root, filepath.FromSlash(key))
}

// key returns the key of the file path p under the root.
func (t *Target) key(p string) string {
	rel, err := filepath.Rel(t.root, p)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storage.ValidateKey(key)
}

// notExist maps the errors meaning "no such file" to storage.ErrNotExist.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", storage.ErrNotExist, err)
	}
	return err
}

// randomSuffix returns ".<12 hex digits>.partial".
func randomSuffix() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random partial file name: %w", err)
	}
	return "." + hex.EncodeToString(b[:]) + storage.PartialSuffix, nil
}

// errLocked: a partial file's lock is held by someone else.
var errLocked = errors.New("partial file locked by another process")

// errPartialTaken: a new partial file was locked or removed by
// CleanPartials (of another process) before its writer could lock it. It
// matches fs.ErrNotExist, so that Create tries again with a new name.
var errPartialTaken = fmt.Errorf("partial file removed by a concurrent clean-up: %w", fs.ErrNotExist)

// createPartial creates a new file, mode 0600 whatever the umask, and locks
// it so that CleanPartials leaves it alone until it is closed.
func createPartial(name string) (file, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(fileMode); err != nil {
		return nil, abandon(f, name, err)
	}
	if err := claimPartial(f, name); err != nil {
		if errors.Is(err, errPartialTaken) {
			// Nothing was written and the clean-up removes the file (the
			// name may even be another file's now): only the descriptor
			// goes, whatever Close returns.
			_ = f.Close()
			return nil, err
		}
		return nil, abandon(f, name, err)
	}
	return f, nil
}

// claimPartial locks the new partial file f at name and checks that name
// still names it: CleanPartials of another process may have found it
// unlocked between its creation and the lock, and be removing it.
func claimPartial(f *os.File, name string) error {
	if err := lock(f); err != nil {
		if errors.Is(err, errLocked) {
			return fmt.Errorf("%w (%w)", errPartialTaken, err)
		}
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	cur, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !os.SameFile(fi, cur) {
		return errPartialTaken
	}
	return err
}

// abandon closes and removes a partial file that cannot be used, and
// returns err with what could not be cleaned up: a file left behind is
// removed by CleanPartials.
func abandon(f *os.File, name string, err error) error {
	// The descriptor is gone whatever Close returns, and the file is
	// removed next: a close error tells nothing to act on.
	_ = f.Close()
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return fmt.Errorf("%w; and remove %s: %w (left for CleanPartials)", err, name, rerr)
	}
	return err
}

// mkdirAll creates dir and its missing parents, each with mode 0700 whatever
// the umask, and fsyncs the directory holding each new one.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil // created concurrently
		}
		return err
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return err
	}
	return syncDir(parent)
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) {
		return nil // the file system cannot sync directories
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// PartialInUse reports whether a live writer — a download of this or
// another process — holds the partial file at path (a path under a
// Target's root ending in PartialSuffix). A file gone meanwhile counts as
// in use: it is no leftover. Where the file system has no locks it reports
// false.
func PartialInUse(path string) (bool, error) { return partialInUse(path) }

// RemovePartialIfUnused removes the partial file at path unless a live
// writer holds it, and reports whether it removed it.
func RemovePartialIfUnused(path string) (bool, error) { return removeUnlocked(path, os.Remove) }
